"""Affiliation classes (design.md §4): unknown is never external, registries are sourced."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import pytest

from llmcarto.analysis.affiliation import (
    DomainIndex,
    academic_domain,
    affiliation_shares,
    classify_commit,
    domain_index,
    is_free_mail,
    is_hostname,
    shares_markdown,
)
from llmcarto.bundle import ARCHIVE, snapshot_dir
from llmcarto.errors import FrameworkError
from llmcarto.framework.organisations import (
    Organisation,
    load_organisation_files,
    organisations_path,
    packaged_organisations,
    parse_organisations,
)

REPO = Path(__file__).resolve().parents[1]
FREE_MAIL_SEEN = ("gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.co.uk",
                  "outlook.de", "yahoo.com", "yahoo.com.sg", "yahoo.ca", "icloud.com", "me.com",
                  "qq.com", "163.com", "126.com", "protonmail.com", "posteo.net", "posteo.de",
                  "aol.com", "live.de", "live.it", "live.nl", "windowslive.com", "yandex.ru",
                  "mail.com", "hey.com", "naver.com", "laposte.net", "virgilio.it",
                  "rocketmail.com", "mailbox.org", "jhoward.fastmail.fm")
HOSTNAMES_SEEN = ("jons-macbook-pro.local", "kyle-laptop", "selene-login-01.nvidia.com",
                  "luna-0006.selene.nvidia.com", "allennlp-cirrascale-51.reviz.ai2.in",
                  "ip-172-31-15-104.us-west-2.compute.internal", "draco-aws2-login-01.cm.cluster",
                  "jwlogin21.juwels", "dgx0092.nsv.rno1.nvmetal.net", "login01.expanse.sdsc.edu",
                  "gpu-st-p4d-24xlarge-325.hpc-1click-prod450.pcluster",
                  "e2e-81-69.ssdcloudindia.net", "g3011.hyak.local")
NOT_HOSTNAMES = ("allenai.org", "cs.cmu.edu", "mail.utoronto.ca", "sps.nus.edu.sg",
                 "iais.fraunhofer.de", "us.ibm.com", "bigscience.huggingface.co")


@pytest.fixture(scope="module")
def index(built_store) -> DomainIndex:
    from llmcarto.store import open_published

    con = open_published(built_store)
    try:
        return domain_index(con)
    finally:
        con.close()


@pytest.mark.parametrize("domain", FREE_MAIL_SEEN)
def test_free_mail_is_recognised(domain):
    assert is_free_mail(domain)


def test_hostnames_are_machines_not_organisations():
    assert all(is_hostname(d) for d in HOSTNAMES_SEEN)
    assert not any(is_hostname(d) for d in NOT_HOSTNAMES)
    assert academic_domain("cs.cmu.edu") == "cmu.edu"
    assert academic_domain("mails.tsinghua.edu.cn") == "tsinghua.edu.cn"
    assert academic_domain("imperial.ac.uk") == "imperial.ac.uk"
    assert academic_domain("mila.quebec") is None and academic_domain("epita.fr") is None


@pytest.mark.parametrize(("domain", "case", "cls", "org"), [
    ("allenai.org", "allenai", "internal", "Allen Institute for AI (Ai2)"),
    ("gmail.com", "allenai", "unknown", None),
    ("users.noreply.github.com", "allenai", "unknown", None),
    ("allennlp-cirrascale-51.reviz.ai2.in", "allenai", "unknown", None),
    ("harvard.edu", "allenai", "partner", "Kempner Institute, Harvard University"),
    ("uw.edu", "allenai", "unknown", None),  # an unsourced candidate beats the .edu pattern
    ("uw.edu", "meta", "external", "uw.edu"),
    ("sjtu.edu.cn", "ant-group", "unknown", None),
    ("huggingface.co", "huggingface", "internal", "Hugging Face"),
    ("huggingface.co", "eleutherai", "partner", "Hugging Face"),
    ("huggingface.co", "meta", "external", "Hugging Face"),
    ("nvidia.com", "bigscience", "partner", "NVIDIA"),
    ("nvidia.com", "opengpt-x", "external", "NVIDIA"),
    ("selene-login-01.nvidia.com", "bigscience", "unknown", None),
    ("us.ibm.com", "meta", "external", "IBM"),
    ("aleph-alpha.de", "eleutherai", "external", "Aleph Alpha"),
    ("aleph-alpha.de", "opengpt-x", "unknown", None),  # unsourced candidate of the case
    ("capia.no", "nb-ailab", "unknown", None),
    ("sutawika.com", "eleutherai", "unknown", None),  # personal domain: never an organisation
    ("aimsammi.org]", "masakhane", "unknown", None),
    (None, "masakhane", "unknown", None),
])
def test_domain_classes_follow_the_precedence(index, domain, case, cls, org):
    got = index.classify(domain, case)
    assert (got.cls, got.org) == (cls, org), got
    if cls in ("internal", "partner") or (cls == "external" and org != domain):
        assert got.evidence and got.evidence.startswith("http"), got


def test_person_periods_fill_unknown_addresses_only_inside_their_span():
    index = DomainIndex([{"case_key": "x", "domain": "x.org", "class": "internal",
                          "organisation": None, "source_url": "https://x.org"}], {"x": "X"}, [])
    from datetime import datetime as dt

    commits = [{"person": "p", "author_email": "a@x.org", "author_date": dt(2024, 1, 1)},
               {"person": "p", "author_email": "a@x.org", "author_date": dt(2024, 6, 1)}]
    periods = {"p": [(dt(2024, 1, 1), dt(2024, 6, 1), "x.org")]}
    inside = classify_commit({"person": "p", "author_email": "p@gmail.com",
                              "author_date": dt(2024, 3, 1)}, "x", index, periods)
    outside = classify_commit({"person": "p", "author_email": "p@gmail.com",
                               "author_date": dt(2025, 3, 1)}, "x", index, periods)
    assert (inside["author_class"], inside["class_basis"], inside["domain_class"]) == (
        "internal", "person-period", "unknown")
    assert (outside["author_class"], outside["author_org"]) == ("unknown", None)
    from llmcarto.analysis.affiliation import person_periods

    assert person_periods(commits, index) == periods


def test_free_mail_authors_come_out_unknown_and_never_as_organisations(published):
    rows = published.execute("""
        SELECT a.domain_class, a.author_class, a.class_basis, a.author_org, c.author_domain
        FROM commit_affiliation a JOIN git_commit c USING (repo, sha)""").fetchall()
    free = [r for r in rows if is_free_mail(r[4])]
    assert len(free) >= 8000  # gmail alone: 7,221 commits in the bundle (README §8)
    assert {r[0] for r in free} == {"unknown"}
    assert all(r[3] is None for r in free if r[2] == "domain")
    # an organisation is shown only for a registered class, and never an unregistered domain
    assert all(r[3] is None for r in rows if r[1] in ("unknown", "bot"))
    shown = {r[3] for r in rows if r[3]}
    assert not shown & {"sutawika.com", "capia.no", "gmail.com", "soldaini.net", "deviniti.com",
                        "levykramer.co.uk", "retrorabbit.co.za", "epita.fr"}
    # a person whose identities are all free-mail or noreply stays unknown everywhere
    only_free = published.execute("""
        SELECT a.author_class, count(*) FROM commit_affiliation a WHERE a.person IN (
            SELECT person FROM git_person_identity GROUP BY person
            HAVING bool_and(identity_kind = 'name' OR split_part(identity, '@', 2) IN
                            ('gmail.com', 'users.noreply.github.com', 'outlook.com', 'qq.com')))
        GROUP BY 1""").fetchall()
    assert dict(only_free).keys() == {"unknown"} and dict(only_free)["unknown"] > 5000


def test_megatron_deepspeed_pre_fork_nvidia_commits_are_inherited(published):
    rows = dict(published.execute("""
        SELECT a.inherited, count(*) FROM commit_affiliation a JOIN git_commit c USING (repo, sha)
        WHERE a.repo = 'bigscience-workshop/Megatron-DeepSpeed' AND c.author_domain = 'nvidia.com'
        GROUP BY 1""").fetchall())
    assert rows == {True: 818}  # the bundle README: 818 nvidia.com commits, all upstream
    own = published.execute("""SELECT count(*) FROM commit_affiliation
        WHERE repo = 'bigscience-workshop/Megatron-DeepSpeed' AND NOT inherited""").fetchone()[0]
    assert own == 224


def test_shares_exclude_inherited_and_bots_and_match_the_readme(published):
    shares = {s["case"]: s for s in affiliation_shares(published)}
    olmo = published.execute("""SELECT count(*) FROM commit_affiliation
        WHERE case_key = 'allenai' AND NOT inherited""").fetchone()[0]
    s = shares["allenai"]
    assert s["internal"] + s["partner"] + s["external"] + s["unknown"] + s["bot"] == olmo
    assert shares["bigscience"]["inherited"] == 886 and shares["opengpt-x"]["inherited"] == 2310
    assert s["external_share"] == s["external"] / (s["internal"] + s["partner"] + s["external"])
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- affiliation:begin -->\n(.*?)<!-- affiliation:end -->", readme, re.S)
    assert block, "README.md has no affiliation block"
    assert block.group(1) == shares_markdown(list(shares.values())), \
        "README affiliation shares drifted: run `make readme-numbers`"


# --- the organisation registry --------------------------------------------------------


def _bundled_text(source_repo: str, original_path: str) -> str:
    with tarfile.open(snapshot_dir() / ARCHIVE, mode="r:xz") as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
        for entry in manifest["files"]:
            src = entry.get("source") or {}
            if src.get("source_repo") == source_repo and src.get("original_path") == \
                    original_path:
                return tar.extractfile(entry["path"]).read().decode("utf-8")
    raise AssertionError(f"{source_repo}/{original_path} is not in the bundled snapshot")


@pytest.mark.parametrize("entry", packaged_organisations(), ids=lambda e: e.name)
def test_every_registry_entry_is_shown_by_its_cited_file(entry: Organisation):
    m = re.match(r"^https://github\.com/([^/]+/[^/]+)/blob/[0-9a-f]{40}/(.+?)#L(\d+)(?:-L(\d+))?$",
                 entry.source)
    assert m, f"{entry.name}: source must be a pinned GitHub file with a line anchor"
    text = _bundled_text(m.group(1), m.group(2))
    lines = text.splitlines()
    first, last = int(m.group(3)), int(m.group(4) or m.group(3))
    cited = "\n".join(lines[first - 1:last])
    assert entry.shows and entry.shows in cited, (entry.name, cited)
    assert entry.name in text
    for domain in entry.domains:
        assert domain in text.lower()
        host = re.match(r"https?://([^/]+)", entry.shows).group(1)
        if domain in host:
            assert host == domain or host.endswith("." + domain)


def test_registry_files_are_validated_with_file_line_and_field(tmp_path: Path):
    text = organisations_path().read_text(encoding="utf-8")
    assert len(parse_organisations(text, "organisations.yaml")) == len(packaged_organisations())
    bad = tmp_path / "orgs.yaml"
    bad.write_text("organisations:\n  - name: Acme\n    domains: [acme.example]\n", "utf-8")
    with pytest.raises(FrameworkError, match=r"orgs.yaml:\d+: field 'organisations\[0\]\.source'"
                                             r".*without a source are not accepted"):
        load_organisation_files([bad])
    bad.write_text("organisations:\n  - name: Acme\n    domains: [not a domain]\n"
                   "    source: https://acme.example/about\n", "utf-8")
    with pytest.raises(FrameworkError, match=r"field 'organisations\[0\]\.domains\[0\]'"):
        load_organisation_files([bad])


def test_user_organisations_extend_the_registry(tmp_path: Path, built_store: Path):
    """`--organisations FILE` makes a sourced domain external, and the store remembers it."""
    import shutil

    from typer.testing import CliRunner

    from llmcarto import settings as settings_module
    from llmcarto.cli import app
    from llmcarto.store import open_published

    db = tmp_path / "copy.duckdb"
    shutil.copyfile(built_store, db)
    orgs = tmp_path / "orgs.yaml"
    orgs.write_text("organisations:\n  - name: Retro Rabbit\n    domains: [retrorabbit.co.za]\n"
                    "    source: https://example.org/retro-rabbit-about\n", "utf-8")
    repo = tmp_path / "r"
    from tests.test_git_collect import Repo

    r = Repo(repo)
    r.commit("one", {"a": "1\n"}, author=("Jo", "jo@retrorabbit.co.za"))
    runner = CliRunner()
    try:
        result = runner.invoke(app, ["--db", str(db), "--organisations", str(orgs), "collect",
                                     "git", str(repo), "--repo", "someone/rr", "--case",
                                     "masakhane"])
        assert result.exit_code == 0, result.output
    finally:
        settings_module._ACTIVE = None
    con = open_published(db)
    try:
        got = con.execute("""SELECT author_class, author_org, evidence_url FROM commit_affiliation
            WHERE repo = 'someone/rr'""").fetchall()
        masakhane = con.execute("""SELECT author_class, count(*) FROM commit_affiliation
            a JOIN git_commit c USING (repo, sha) WHERE a.repo = 'masakhane-io/masakhane-mt'
            AND c.author_domain = 'retrorabbit.co.za' GROUP BY 1""").fetchall()
        stored = con.execute("SELECT origin, file FROM org_registry WHERE domain = "
                             "'retrorabbit.co.za'").fetchall()
    finally:
        con.close()
    assert got == [("external", "Retro Rabbit", "https://example.org/retro-rabbit-about")]
    assert masakhane == [("external", 196)]
    assert stored == [("user", str(orgs))]

"""The case registry as store tables, so analyses can join cases to repos and Hub orgs.

Reads the registry format (`cases:` mapping) with the same validating loader the CLI
uses; a malformed file is one error naming file, line and field.
"""

from __future__ import annotations

from collections.abc import Iterator

from llmcarto.errors import CaseFileError, InputError
from llmcarto.framework.cases import PACKAGED_CASES, packaged_cases_path, parse_registry
from llmcarto.sources.base import ReadContext, Record, Skip


class CaseRegistryReader:
    kind = "cases"
    description = "case registry YAML (cases.yaml or a user case file)"
    tables = {
        "case_info": "case_key VARCHAR, name VARCHAR, org_type VARCHAR, country VARCHAR, "
                     "region VARCHAR, study_box VARCHAR, study_column VARCHAR, "
                     "study_box_source VARCHAR, study_model_family VARCHAR, origin VARCHAR, "
                     "facts JSON",
        "case_release_line": "case_key VARCHAR, name VARCHAR, artefact VARCHAR, "
                             "hub_orgs VARCHAR[], id_regex VARCHAR, first_release DATE, "
                             "first_release_precision VARCHAR, approx_date VARCHAR, "
                             "date_is_upper_bound BOOLEAN, licence VARCHAR, "
                             "hub_license_id VARCHAR, licence_source VARCHAR",
        "case_repository": "case_key VARCHAR, repo VARCHAR, roles VARCHAR[], "
                           "in_bundle BOOLEAN, fork_of VARCHAR, fork_point VARCHAR, "
                           "upstream_synced_to VARCHAR, role_evidence VARCHAR",
        "case_partner": "case_key VARCHAR, name VARCHAR, kinds VARCHAR[], role VARCHAR, "
                        "note VARCHAR",
        "case_domain": "case_key VARCHAR, domain VARCHAR, class VARCHAR, organisation VARCHAR, "
                       "note VARCHAR",
    }

    def detect(self, name: str, head: bytes) -> bool:
        text = head.decode("utf-8", "replace")
        return name.endswith((".yaml", ".yml")) and (
            text.lstrip().startswith("cases:") or "\ncases:" in text
            or "\nregistry:" in text or text.startswith("registry:") or "# Case registry" in text)

    def read(self, ctx: ReadContext) -> Iterator[Record | Skip]:
        try:
            text = ctx.path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{ctx.name}: not UTF-8 text ({exc.reason})") from exc
        try:
            if "registry:" in text.split("cases:", 1)[0]:
                registry = parse_registry(text, ctx.name)
            else:  # a user file: layered over the packaged registry for its vocabularies
                registry = parse_registry(packaged_cases_path().read_text(encoding="utf-8"),
                                          PACKAGED_CASES, [(text, ctx.name)])
        except CaseFileError as exc:
            yield Skip(ctx.name, str(exc).split(":", 2)[1] if ":" in str(exc) else "?",
                       str(exc))
            return
        for case in registry:
            if case.origin != ctx.name:
                continue
            yield from self._case_records(case)

    def _case_records(self, case) -> Iterator[Record]:
        url = case.name.source if (case.name.source or "").startswith("http") else None
        facts = {name: {"value": fact.value, "source": fact.source, "note": fact.note}
                 for name, fact in (("name", case.name), ("type", case.org_type),
                                    ("country", case.country), ("region", case.region),
                                    ("study_box", case.study.box),
                                    ("study_model_family", case.study.model_family))}
        yield Record("case_info", {
            "case_key": case.key, "name": case.name.value, "org_type": case.org_type.value,
            "country": case.country.value, "region": case.region.value,
            "study_box": case.study.box.value, "study_column": case.study.column,
            "study_box_source": case.study.box.source,
            "study_model_family": case.study.model_family.value, "origin": case.origin,
            "facts": facts}, url, f"case {case.key}")
        for line in case.families:
            fr = line.first_release
            yield Record("case_release_line", {
                "case_key": case.key, "name": line.name, "artefact": line.artefact,
                "hub_orgs": list(line.hub_orgs.value or []), "id_regex": line.id_regex,
                "first_release": fr.date, "first_release_precision": fr.precision,
                "approx_date": fr.approx_date, "date_is_upper_bound": fr.date_is_upper_bound,
                "licence": line.licence.value,
                "hub_license_id": line.licence.extra.get("hub_license_id"),
                "licence_source": line.licence.source},
                fr.source if (fr.source or "").startswith("http") else None,
                f"case {case.key} release line {line.name}")
        for repo in case.repositories:
            yield Record("case_repository", {
                "case_key": case.key, "repo": repo.repo, "roles": list(repo.roles),
                "in_bundle": repo.in_bundle, "fork_of": repo.fork_of,
                "fork_point": repo.fork_point.sha if repo.fork_point else None,
                "upstream_synced_to": (repo.upstream_synced_to.sha
                                       if repo.upstream_synced_to else None),
                "role_evidence": repo.role_evidence},
                repo.source or repo.url, f"case {case.key} repository {repo.repo}")
        for partner in case.partners:
            yield Record("case_partner", {
                "case_key": case.key, "name": partner.name, "kinds": list(partner.kinds),
                "role": partner.role, "note": partner.note},
                partner.source if (partner.source or "").startswith("http") else None,
                f"case {case.key} partner {partner.name}")
        for cls, entries in (("internal", case.domains.internal),
                             ("partner", case.domains.partner),
                             ("unsourced_candidate", case.domains.unsourced_candidates)):
            for entry in entries:
                for domain in entry.names:
                    yield Record("case_domain", {
                        "case_key": case.key, "domain": domain, "class": cls,
                        "organisation": entry.organisation, "note": entry.note},
                        entry.source if (entry.source or "").startswith("http") else None,
                        f"case {case.key} domain {domain}")


READERS = [CaseRegistryReader()]

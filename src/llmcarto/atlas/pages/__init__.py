"""One module per page: each turns query results into the context its template draws."""

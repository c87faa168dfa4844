"""Request logs: LiteLLM's spend logs queried page by page (filters, sorting, paging), shown, charted and exported."""

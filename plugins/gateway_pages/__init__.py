"""The gateway's pages in the Airflow UI: a FastAPI app (app.py) of server-rendered HTML, mounted by the
plugin in gateway_pages_plugin.py. See docs/pages.md."""

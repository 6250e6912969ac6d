"""The run report: one self-contained HTML page per run that an analyst opens without a server.

`data` reads what the report shows from the warehouse, `charts*` build plotly figures, and
`render` assembles the page with plotly.js embedded once (no CDN, works offline).
"""

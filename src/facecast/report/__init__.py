"""The report a person reads (stage report): contact sheets, rejects, the gate's plots, demographic shares.

``reports/index.html`` is one self-contained page (images embedded as JPEG
data URIs, charts drawn as inline SVG). It shows the ORIGINAL faces of the
source footage next to their recasts, so it is an internal document and is
never published with the dataset.
"""

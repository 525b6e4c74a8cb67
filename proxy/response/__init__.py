"""What a browser will do with a response, and what Consentry changes in it (sans-io).

One layer for both adapters, the aiohttp server and the mitmproxy addon: content codings
with size caps (``codings``), media types as the WHATWG MIME Sniffing standard parses and
sniffs them (``mime``, ``sniff``), and the per-response plan (``plan``): is this a document
the browser renders (HTML, XHTML, SVG, XML), in which charset, through which codings, is
it a fragment (206) that must not be rewritten, which headers change (ETag, Vary, Refresh,
Link, Set-Cookie, Content-Length, digests). Standard library plus brotli/zstandard only:
no aiohttp, no mitmproxy, no pydantic.
"""

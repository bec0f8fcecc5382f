"""web: the site as browsers meet it (a Django app without models, top layer).

The pages (views, gallery, pwa: thin views over the apps' services and
selectors; templates in /templates) and the HTTP/websocket edge every request
passes: trusted proxies (proxies), the websocket Origin check (origin), the
Content-Security-Policy (csp) and their deploy check (checks).
"""

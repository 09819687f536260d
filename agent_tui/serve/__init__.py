"""``agent-tui serve``: textual-serve with the access token and origin check it lacks.

:mod:`.guard` is the aiohttp middleware (token, cookie, origin); :mod:`.server` subclasses
textual-serve's ``Server`` so every per-tab app runs in its own process group that a stop can end;
:mod:`.viewer` is that app, which also ends if the server is killed outright.
"""

"""The dashboard at /ui: server-rendered pages, a server-side session, CSRF on every form."""

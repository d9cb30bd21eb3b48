"""The HTTP edge: JSON API, health URLs, logins and the guard in front of every route."""

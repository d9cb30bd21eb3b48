"""``python -m backend <command>``: operator commands (``--help`` lists them)."""

from flask.cli import FlaskGroup

from backend import create_app

cli = FlaskGroup(create_app=lambda: create_app(), help=__doc__)

if __name__ == "__main__":
    cli()

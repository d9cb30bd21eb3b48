import re

from backend.config import Settings
from tests.conftest import ROOT


def documented() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^([A-Z][A-Z0-9_]*)=", text, re.M))


def test_every_setting_is_documented_in_env_example():
    missing = {name.upper() for name in Settings.model_fields} - documented()
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_every_variable_compose_reads_is_documented():
    compose = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", compose)) - {"HOSTNAME"}
    assert not used - documented(), sorted(used - documented())

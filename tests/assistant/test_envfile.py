from assistant.cli.envfile import ensure_env


def test_env_is_created_with_fresh_secrets_and_existing_values_are_kept(tmp_path):
    example = tmp_path / ".env.example"
    example.write_text("# comment\nDASI_PORT=8080\nDASI_DATA_KEY=\nDASI_SECRET_KEY=\nOTHER=\n")
    target = tmp_path / ".env"
    added = ensure_env(example, target)
    assert added == ["DASI_PORT", "DASI_DATA_KEY", "DASI_SECRET_KEY", "OTHER"]
    values = dict(line.split("=", 1) for line in target.read_text().splitlines()
                  if "=" in line and not line.startswith("#"))
    assert len(values["DASI_DATA_KEY"]) == 44 and len(values["DASI_SECRET_KEY"]) > 40 and values["OTHER"] == ""
    assert oct(target.stat().st_mode & 0o777) == "0o600"

    target.write_text(target.read_text().replace("DASI_PORT=8080", "DASI_PORT=9999"))
    example.write_text(example.read_text() + "DASI_NEW=1\n")
    assert ensure_env(example, target) == ["DASI_NEW"]
    again = target.read_text()
    assert "DASI_PORT=9999" in again and values["DASI_DATA_KEY"] in again and "DASI_NEW=1" in again

    other = tmp_path / "second.env"
    ensure_env(example, other)
    assert values["DASI_DATA_KEY"] not in other.read_text()  # every install gets its own secrets

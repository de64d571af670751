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


# --- security review, finding 11: one name per setting; `dasi init` pins no platform URL ----------------

def test_every_setting_has_one_environment_name():
    from assistant.core.settings import ENV

    names = [n for env_names, _ in ENV.values() for n in env_names]
    assert all(len(env_names) == 1 for env_names, _ in ENV.values()), [e for e, _ in ENV.values() if len(e) != 1]
    assert len(names) == len(set(names))


def test_the_documented_x_api_base_is_the_one_read(env, caplog):
    from assistant.core.settings import Settings, get_settings

    env(X_API_BASE="https://x.example/", DASI_X_API_BASE="https://old.example")
    assert get_settings().x_api_base == "https://x.example"  # it was shadowed by DASI_X_API_BASE
    env(X_API_BASE="")
    with caplog.at_level("WARNING"):
        assert get_settings().x_api_base == Settings().x_api_base  # the old name is no longer read...
    assert "DASI_X_API_BASE" in caplog.text and "X_API_BASE" in caplog.text  # ...and says so


def test_init_writes_no_platform_urls(tmp_path, monkeypatch):
    from assistant.core.settings import ROOT, Settings, load_settings

    target = tmp_path / ".env"
    ensure_env(ROOT / ".env.example", target)
    written = dict(line.split("=", 1) for line in target.read_text().splitlines()
                   if "=" in line and not line.startswith("#"))
    assert not [k for k in written if k.endswith(("_API_BASE", "_GRAPH_BASE"))], written
    assert not [k for k, v in written.items() if v.startswith(("http://", "https://")) and "127.0.0.1" not in v]
    for name in list(written):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DASI_ENV_FILE", str(target))
    loaded, defaults = load_settings(), Settings()
    assert (loaded.x_api_base, loaded.meta_graph_base) == (defaults.x_api_base, defaults.meta_graph_base)

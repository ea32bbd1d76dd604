"""Loads a Hermes Agent home the way Hermes 0.19.0 itself does and prints, as one JSON object, what
it makes of it: structure issues, the provider/model/base URL/key it resolves, and the messaging
platforms it would connect. Run with Hermes's own Python; argv: the home directory, and optionally
the managed directory. Works on a copy: Hermes rewrites files in its home."""

import json
import os
import shutil
import sys
import tempfile


def main() -> None:
    home = sys.argv[1]
    managed = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
    scratch = tempfile.mkdtemp(prefix="hermes-check-")
    copy = os.path.join(scratch, "home")
    shutil.copytree(home, copy, symlinks=True)
    os.environ["HERMES_HOME"] = copy
    os.environ["HERMES_DISABLE_LAZY_INSTALLS"] = "1"
    if managed:
        managed_copy = os.path.join(scratch, "managed")
        shutil.copytree(managed, managed_copy, symlinks=True)
        os.environ["HERMES_MANAGED_DIR"] = managed_copy
    # Values Hermes reads from .env reach it through the process environment.
    for name in list(os.environ):
        if name.startswith(("DINGTALK_", "FEISHU_", "WECOM_", "QQ_", "WEIXIN_")) or name.endswith("_API_KEY"):
            del os.environ[name]

    # As Hermes's own entry points do first: ~/.hermes/.env into the environment.
    from hermes_cli.env_loader import load_hermes_dotenv

    load_hermes_dotenv(hermes_home=copy)
    from hermes_cli.config import load_config, validate_config_structure
    from hermes_cli.runtime_provider import resolve_runtime_provider
    from gateway.config import load_gateway_config

    config = load_config()
    issues = [str(getattr(i, "message", i)) for i in validate_config_structure(config)]
    out = {"issues": issues, "model": config.get("model")}
    try:
        runtime = resolve_runtime_provider()
        out["runtime"] = {k: runtime.get(k) for k in ("provider", "base_url", "api_key", "api_mode", "model")}
    except Exception as e:  # the resolution failing is the finding
        out["runtime_error"] = f"{type(e).__name__}: {e}"
    try:
        platforms = load_gateway_config().get_connected_platforms()
        out["platforms"] = sorted(getattr(p, "value", str(p)) for p in platforms)
    except Exception as e:
        out["platforms_error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(out, default=str))
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

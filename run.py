"""Start ctpdesk: `python run.py [--config FILE]`. Also exposes `app` for uWSGI (`module = run:app`)."""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import sys  # noqa: E402

from gevent.pywsgi import WSGIServer  # noqa: E402

from backend.app import create_app  # noqa: E402
from lib.config import load_settings  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ctpdesk: a web trading desk for CTP futures")
    parser.add_argument("--config", default="config.yaml", help="YAML configuration (optional)")
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    application = create_app(settings)
    url = f"http://{settings.HOST}:{settings.PORT}/"
    print(f"ctpdesk serving on {url}  (counter: {settings.INTERFACE})", flush=True)
    if settings.INTERFACE == "sim":
        print(f"sim demo account: userid {settings.SIM_USERID}, password {settings.SIM_PASSWORD}", flush=True)
    server = WSGIServer((settings.HOST, settings.PORT), application, log=None)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
else:
    app = create_app()

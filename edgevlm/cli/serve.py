"""`edgevlm serve --device NAME MODEL_DIR [--port P]`: an OpenAI-compatible endpoint on a phone, a Jetson or
this host (edgevlm-serve, the model kept loaded), forwarded to 127.0.0.1:P here until Ctrl-C / SIGTERM."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer

from edgevlm.bench.request import DeviceRequest
from edgevlm.cli import options as opt
from edgevlm.errors import DeviceError
from edgevlm.progress import err_console, progress_bar
from edgevlm.serve.endpoint import ServeSettings, curl_example, start


LOCAL = {
    "device": opt.OPTIONS["device"].but(default=...),
    "port": opt.Opt(int, 8080, "port on 127.0.0.1 here", ("--port",), min=1, max=65535),
}


@dataclass(frozen=True)
class ServeArgs:
    """`edgevlm serve`'s options, in --help order (declared in LOCAL, else in cli/options.py)."""
    model_dir: Path
    device: str
    port: int
    threads: int
    serial: str | None
    host: str | None
    bundle_dir: Path | None
    quant: str | None


def register(app: typer.Typer) -> None:
    opt.command(app, "serve", ServeArgs, LOCAL)(serve)


def serve(a: ServeArgs) -> None:
    """Serve MODEL_DIR from a device: OpenAI chat completions with images, streaming; Ctrl-C stops it."""
    # wait=False: a second server on a device that one already holds is refused (DeviceBusy, exit 3)
    req = DeviceRequest(a.device, a.model_dir, serial=a.serial, host=a.host, quant=a.quant, bundle_dir=a.bundle_dir,
                        threads=a.threads, wait=False)
    endpoint = None
    try:                      # once serving, a stop signal (Ctrl-C, SIGTERM, SIGHUP) is the normal end: exit 0
        with progress_bar() as progress:
            endpoint = start(req, ServeSettings(port=a.port), progress=progress,
                             warn=lambda line: err_console.print(f"[yellow]{line}[/]"))
        typer.echo(f"serving {endpoint.model} from {endpoint.device} at {endpoint.url}  (Ctrl-C stops)")
        typer.echo(curl_example(endpoint))
        endpoint.wait()
        raise DeviceError(endpoint.exit_description())
    except KeyboardInterrupt:                     # edgevlm.interrupt turns SIGTERM / SIGHUP into one
        if endpoint is None:
            raise                                 # interrupted while starting: start() cleaned up
        err_console.print(f"stopping the server on {endpoint.device}")
    finally:
        if endpoint is not None:
            endpoint.stop()

"""`edgevlm serve --device NAME MODEL_DIR [--port P]`: an OpenAI-compatible endpoint on a phone, a Jetson or
this host (edgevlm-serve, the model kept loaded), forwarded to 127.0.0.1:P here until Ctrl-C / SIGTERM."""
from __future__ import annotations

import signal
from pathlib import Path

import typer


class Stop(Exception):
    """SIGTERM: leave like Ctrl-C does, through the clean-up."""


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        model_dir: Path = typer.Argument(..., help="A folder written by `edgevlm convert`."),
        device: str = typer.Option(..., "--device", help="Device profile (devices/*.toml); `host` for this machine."),
        port: int = typer.Option(8080, "--port", min=1, max=65535, help="Port on 127.0.0.1 here."),
        threads: int = typer.Option(0, "--threads", "-t", min=0, help="Threads (0: the profile's)."),
        serial: str = typer.Option(None, "--serial", help="adb serial (several phones)."),
        host: str = typer.Option(None, "--host", help="ssh [user@]host (default: the profile's)."),
        bundle_dir: Path = typer.Option(None, "--bundle", help="An already built bundle."),
        quant: str = typer.Option(None, "--quant", help="Which LLM quant in MODEL_DIR (when several)."),
    ) -> None:
        """Serve MODEL_DIR on a device: OpenAI chat completions with images, streaming; Ctrl-C stops it."""
        from edgevlm.progress import err_console, progress_bar
        from edgevlm.serve.endpoint import ServeSettings, curl_example, start
        from edgevlm.errors import DeviceError

        previous = signal.signal(signal.SIGTERM, _raise_stop)
        try:
            with progress_bar() as progress:
                endpoint = start(device, model_dir, ServeSettings(port=port, threads=threads), serial=serial,
                                 host=host, quant=quant, bundle_dir=bundle_dir, progress=progress,
                                 warn=lambda line: err_console.print(f"[yellow]{line}[/]"))
            with endpoint:
                typer.echo(f"serving {endpoint.model} from {endpoint.device} at {endpoint.url}  (Ctrl-C stops)")
                typer.echo(curl_example(endpoint))
                try:
                    endpoint.wait()
                except (KeyboardInterrupt, Stop):
                    typer.echo(f"stopping {endpoint.device}'s server", err=True)
                    return
                raise DeviceError(endpoint.exit_description())
        except Stop:
            return                       # SIGTERM while starting: start() already cleaned up
        finally:
            signal.signal(signal.SIGTERM, previous)


def _raise_stop(signum, frame) -> None:
    raise Stop()

"""``sesshu media``: verify and open a medium on the receiving side (no store needed)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.context import emit_json, say, state
from cli.options import JsonOption
from exports.verify import OpenFailed, Verdict, open_bundle, read_signer_file, verify_path

app = typer.Typer(help="Write-once media: verify and open (receiving side).")

MediumArg = Annotated[
    Path, typer.Argument(help="The medium: an ISO image, a device or a bundle directory.")
]


def _verdict_json(verdict: Verdict) -> dict[str, object]:
    return {
        "ok": verdict.ok,
        "files": verdict.files,
        "signer": verdict.signer,
        "content_hash": verdict.content_hash,
        "problems": [{"file": p.file, "reason": p.reason} for p in verdict.problems],
    }


def _checked(path: Path) -> Path:
    if not path.exists():
        raise typer.BadParameter(state().t("media.no_such_medium"), param_hint="PATH")
    return path


@app.command("verify")
def verify(
    medium: MediumArg,
    signer: Annotated[
        Path | None,
        typer.Option(
            "--signer", help="The sending terminal's public key (sesshu terminal pubkey)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check the manifests, every hash, the signature and the audit checkpoint.

    Exits 1 and names the bad file when anything fails.
    """
    t = state().t
    expected = read_signer_file(signer) if signer is not None else None
    verdict = verify_path(_checked(medium), expected)
    if as_json:
        emit_json(_verdict_json(verdict))
    elif verdict.ok:
        say(t("media.verified", files=verdict.files, signer=verdict.signer or "-"))
    for problem in verdict.problems:
        reason = t(f"media.reason.{problem.reason}")
        sys.stderr.write(t("media.problem", file=problem.file, reason=reason) + "\n")
    if not verdict.ok:
        raise typer.Exit(1)


@app.command("open")
def open_medium(
    medium: MediumArg,
    out: Annotated[Path, typer.Option("--out", help="Directory to decrypt into.")],
    identity: Annotated[
        Path | None, typer.Option("--identity", help="Your organisation's age identity file.")
    ] = None,
    passphrase_stdin: Annotated[
        bool, typer.Option("--passphrase-stdin", help="Read the passphrase from standard input.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Verify, then decrypt every payload file into DIR; refuses if verification fails."""
    t = state().t
    if (identity is None) == (not passphrase_stdin):
        raise typer.BadParameter(t("media.identity_or_passphrase"), param_hint="--identity")
    key = identity.read_text(encoding="utf-8") if identity is not None else None
    passphrase = sys.stdin.readline().strip() if passphrase_stdin else None
    try:
        written = open_bundle(
            _checked(medium), out, identity=_identity_line(key), passphrase=passphrase
        )
    except OpenFailed as failed:
        sys.stderr.write(t(f"media.reason.{failed.reason}") + "\n")
        raise typer.Exit(1) from None
    if as_json:
        emit_json({"files": [str(p) for p in written]})
    else:
        say(t("media.opened", count=len(written), out=out))


def _identity_line(text: str | None) -> str | None:
    """The ``AGE-SECRET-KEY-1…`` line of an identity file (comments are skipped)."""
    if text is None:
        return None
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            return line.strip()
    return ""

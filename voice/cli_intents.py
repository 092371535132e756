"""`hark intents test "SENTENCE"`: which skill and arguments a sentence maps to, without acting.

For people writing their own templates: it shows the language, whose template
matched (Home Assistant's intent or a skill's `sentences=`), the template text,
the skill and its arguments.  Nothing runs and no data is written.  Exit 1 with
one line saying what would happen instead when nothing matches.
"""

from __future__ import annotations

import json as jsonlib
from pathlib import Path
from typing import Annotated

import typer

intents_app = typer.Typer(
    help="See how sentences map to skills (Home Assistant's templates and your skills' own).",
    no_args_is_help=True,
)


@intents_app.command("test")
def test_sentence(
    sentence: Annotated[str, typer.Argument(help="What you would say, typed.")],
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Config file.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show the skill call a sentence maps to, without running it."""
    from skills.intents import IntentMatcher, normalize_utterance
    from skills.registry import SkillContext, SkillRegistry
    from voice.config import ConfigError, data_dir, load_config

    try:
        cfg = load_config(config)
    except ConfigError as e:
        typer.echo(f"hark: {e}", err=True)
        raise typer.Exit(1) from None
    registry = SkillRegistry.default(cfg.skills.user_dir)
    ctx = SkillContext(config=cfg, data_dir=data_dir())
    try:
        matcher = IntentMatcher(registry, ctx=ctx)
        found = matcher.match(sentence)
    finally:
        ctx.close()
    for problem in [*registry.load_errors, *matcher.problems]:
        typer.echo(f"warning: {problem}", err=True)
    if found is None:
        heard = normalize_utterance(sentence)
        if json:
            typer.echo(jsonlib.dumps({"sentence": sentence, "normalized": heard, "match": None}, ensure_ascii=False))
        typer.echo(
            f"No template matches {heard!r}; Hark would ask the language model. Templates use hassil "
            "syntax: (a|b) alternatives, [optional] words, {slot} for a skill parameter.",
            err=True,
        )
        raise typer.Exit(1)
    source = f"Home Assistant intent {found.intent}" if found.intent else f"the {found.name} skill's sentences"
    if json:
        typer.echo(
            jsonlib.dumps(
                {
                    "sentence": sentence,
                    "language": found.language,
                    "intent": found.intent or None,
                    "template": found.sentence,
                    "skill": found.name,
                    "arguments": found.arguments,
                },
                ensure_ascii=False,
            )
        )
        return
    typer.echo(f"language:  {found.language}")
    typer.echo(f"matched:   {source}")
    typer.echo(f"template:  {found.sentence}")
    typer.echo(f"skill:     {found.name}")
    typer.echo(f"arguments: {jsonlib.dumps(found.arguments, ensure_ascii=False)}")
    typer.echo("(nothing was run)")

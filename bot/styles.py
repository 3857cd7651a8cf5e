"""Styles: a server's named prompt templates, which admins define and members pick in /imagine.

A template holds ``{prompt}`` exactly once; the member's words go there. The expanded text is the job's
prompt: it is what the length limit, the blocked terms and the safety check see, and what Pixazo is sent.
The member's own words are kept beside it on the job, so Vary can offer them to edit. Discord-free.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.errors import InvalidRequestError
from bot.models import Style
from bot.prompts import MAX_PROMPT_CHARS, clean_prompt
from bot.storage import Storage

PLACEHOLDER = "{prompt}"
MAX_NAME_CHARS = 32
MAX_TEMPLATE_CHARS = 1000
MAX_STYLES = 25  # what one autocomplete list shows


@dataclass(frozen=True, slots=True)
class StyledPrompt:
    """A prompt ready for a job: `prompt` is what is checked and sent; with a style, `own` is the member's words."""

    prompt: str
    style: str | None = None
    own: str | None = None


class Styles:
    def __init__(self, storage: Storage, clock: Clock) -> None:
        self._storage = storage
        self._clock = clock

    async def add(self, guild_id: int, name: str, template: str) -> tuple[Style, bool]:
        """Add a style, or change the template of the one with that name: (the style, whether it is new)."""
        style = Style(guild_id, _clean_name(name), _clean_template(template))
        async with self._storage.transaction() as tx:
            key = _key(style.name)
            new = await tx.styles.get(guild_id, key) is None
            if new and await tx.styles.count(guild_id) >= MAX_STYLES:
                raise InvalidRequestError(
                    f"This server has {MAX_STYLES} styles, the most it can have; remove one to add another."
                )
            await tx.styles.put(guild_id, key, style, self._clock())
        return style, new

    async def remove(self, guild_id: int, name: str) -> bool:
        """True if there was a style of that name."""
        async with self._storage.transaction() as tx:
            return await tx.styles.remove(guild_id, _key(name))

    async def all(self, guild_id: int) -> list[Style]:
        async with self._storage.reading() as tx:
            return await tx.styles.all(guild_id)

    async def names_like(self, guild_id: int, typed: str) -> list[str]:
        """The style names to offer as a member types, those containing what they typed."""
        needle = _key(typed)
        return [style.name for style in await self.all(guild_id) if needle in _key(style.name)][:MAX_STYLES]

    async def find(self, guild_id: int, name: str) -> Style | None:
        """The server's style of that name, in any case."""
        async with self._storage.reading() as tx:
            return await tx.styles.get(guild_id, _key(name))

    async def prompt(self, guild_id: int, text: str, style_name: str | None) -> StyledPrompt:
        """The member's words in the named style (or as they are, without one), checked like any prompt."""
        if style_name is None:
            return StyledPrompt(clean_prompt(text))
        style = await self.find(guild_id, style_name)
        if style is None:
            raise InvalidRequestError(
                f"This server has no style called “{style_name.strip()[:MAX_NAME_CHARS]}”; pick one from the list "
                "the style option offers."
            )
        return expand(style, text)

    async def again(self, guild_id: int, text: str, style_name: str | None) -> StyledPrompt:
        """New words in the style an earlier image used (Vary), by its name: its template as it is now."""
        if style_name is None or await self.find(guild_id, style_name) is not None:
            return await self.prompt(guild_id, text, style_name)
        raise InvalidRequestError(
            f"The style “{style_name}” of that image was removed from this server, so it cannot be varied; "
            "/imagine makes a new one."
        )


def expand(style: Style, text: str) -> StyledPrompt:
    own = clean_prompt(text)
    expanded = style.template.replace(PLACEHOLDER, own)
    if len(expanded) > MAX_PROMPT_CHARS:
        raise InvalidRequestError(
            f"In the style “{style.name}” your prompt is {len(expanded):,} characters long; "
            f"the limit is {MAX_PROMPT_CHARS:,}."
        )
    return StyledPrompt(clean_prompt(expanded), style.name, own)


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not 1 <= len(cleaned) <= MAX_NAME_CHARS:
        raise InvalidRequestError(f"A style's name is 1 to {MAX_NAME_CHARS} characters.")
    return cleaned


def _clean_template(template: str) -> str:
    if len(template) > MAX_TEMPLATE_CHARS:
        raise InvalidRequestError(f"A style's template is at most {MAX_TEMPLATE_CHARS:,} characters.")
    if template.count(PLACEHOLDER) != 1:
        raise InvalidRequestError(
            f"A style's template must contain {PLACEHOLDER} exactly once: that is where the member's words go."
        )
    return clean_prompt(template)


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()

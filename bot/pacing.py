"""How often a job's message is edited: at most once a second, and only when the member learns something.

Discord answers an edit storm with 429s, and a member reading "position 48 … 47 … 46" learns nothing from
most of them. So a change of stage is shown at once, except the brief ones (sending, rendering, fetching),
which are shown only if they last; the first place a job is known at, at once; a new place in the same
stage only when it moved by a quarter, or into the last three, and not sooner than five seconds after the
last edit. A state the job should leave within a couple of seconds waits until a second past that: shown
now, it would make the result that follows wait out the one-second gap (a render not yet timed is taken to
last about a second, as Pixazo's renders do). The estimate of when a job starts
is a Discord timestamp that counts down by itself, so it needs no edits of its own.
"""

from __future__ import annotations

from bot.progress import Progress, Stage

MIN_EDIT_GAP = 1.0  # seconds between two edits of one message, the final result included
SAME_STAGE_GAP = 5.0  # seconds between two edits that only move a place in the same stage
BRIEF_HOLD = 1.0  # a brief stage is shown only if it is still the newest after this long
SOON = MIN_EDIT_GAP + BRIEF_HOLD  # seconds: a job expected to be done within this is not worth an edit yet
BRIEF = frozenset({Stage.SUBMITTING, Stage.RENDERING, Stage.DELIVERING})
TYPICAL_RENDER = 1.0  # seconds: Pixazo renders in about a second once a job starts, until renders are timed


def when_to_show(shown: Progress | None, edited_at: float, new: Progress, now: float) -> float | None:
    """When `new` may go on the message (same clock as `now`), or None if it is not worth an edit.

    `shown` is what the message shows (None: only the placeholder), `edited_at` when it was last edited.
    """
    if shown is None or new.stage is not shown.stage:
        at = now + (BRIEF_HOLD if new.stage in BRIEF else 0.0)
    elif shown.position is None and new.position is not None:
        at = now  # the first place it is known at
    elif worth_an_edit(shown, new):
        at = edited_at + SAME_STAGE_GAP
    else:
        return None
    ends_in = new.ends_in
    if ends_in is None and new.stage is Stage.RENDERING:
        ends_in = TYPICAL_RENDER  # no render timed yet
    if ends_in is not None and ends_in < SOON:
        at = max(at, now + ends_in + BRIEF_HOLD)  # shown only if the result is late
    return max(at, edited_at + MIN_EDIT_GAP)


def worth_an_edit(shown: Progress, new: Progress) -> bool:
    """Whether a new place (or a first estimate) in the same stage tells the member something."""
    if new.position is None:
        return shown.starts_in is None and new.starts_in is not None
    if shown.position is None:
        return True
    return new.position < shown.position and (new.position <= 3 or new.position <= shown.position * 0.75)

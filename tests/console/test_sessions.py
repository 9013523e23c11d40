"""console/security: the access token opens sessions; idle sessions are forgotten (by a clock
the test moves)."""

from __future__ import annotations

from leadsync.console.security import Sessions, new_token
from tests.helpers import ManualClock


def test_only_the_token_opens_a_session() -> None:
    sessions = Sessions("a" * 32)
    assert sessions.token_ok("a" * 32)
    assert (
        not sessions.token_ok("a" * 31) and not sessions.token_ok("") and not sessions.token_ok("é")
    )
    s = sessions.open()
    assert sessions.get(s.sid) is s and s.csrf != s.sid
    assert sessions.get("forged") is None and sessions.get(None) is None


def test_an_idle_session_is_forgotten_a_used_one_is_kept() -> None:
    clock = ManualClock()
    sessions = Sessions("t" * 32, clock=clock, idle_s=100)
    used, idle = sessions.open(), sessions.open()
    clock.now += 60
    assert sessions.get(used.sid) is used
    clock.now += 60  # idle has not been seen for 120 s, used for 60 s
    assert sessions.get(used.sid) is used
    assert sessions.get(idle.sid) is None


def test_generated_tokens_are_long_and_new_each_time() -> None:
    tokens = {new_token() for _ in range(20)}
    assert len(tokens) == 20 and all(len(t) >= 40 for t in tokens)

"""The full-text terms: any substring of a name is found through the index, and nothing else."""

from __future__ import annotations

import sqlcipher3
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.residents import fts_phrase
from storage.search_keys import indexed_terms, query_terms, searchable

NAME_CHARACTERS = st.sampled_from(list("山田高橋髙﨑崎斎藤太郎花子々ーアイウヤマダOBrien'[]; 1２"))


def fts() -> sqlcipher3.Connection:
    conn = sqlcipher3.connect(":memory:")
    conn.execute(
        "CREATE VIRTUAL TABLE t USING fts5 (name, tokenize = 'unicode61 remove_diacritics 0')"
    )
    return conn


def test_terms_are_pairs_then_the_last_character() -> None:
    assert indexed_terms("高橋太郎") == "高橋 橋太 太郎 郎"
    assert indexed_terms("辻") == "辻"
    assert query_terms("高橋太") == ("高橋 橋太", False)
    assert query_terms("郎") == ("郎", True)
    assert searchable("O'Brien [red];") == "OBrienred"


@settings(max_examples=200, deadline=None)
@given(st.text(NAME_CHARACTERS, min_size=1, max_size=12), st.data())
def test_every_substring_is_found(name: str, data: st.DataObject) -> None:
    kept = searchable(name)
    if not kept:
        return
    start = data.draw(st.integers(0, len(kept) - 1))
    end = data.draw(st.integers(start + 1, len(kept)))
    conn = fts()
    conn.execute("INSERT INTO t (rowid, name) VALUES (1, ?)", (indexed_terms(kept),))
    phrase = fts_phrase("name", kept[start:end])
    assert phrase is not None
    assert conn.execute("SELECT rowid FROM t WHERE t MATCH ?", (phrase,)).fetchall() == [(1,)]


@settings(max_examples=200, deadline=None)
@given(
    st.text(NAME_CHARACTERS, min_size=1, max_size=8),
    st.text(NAME_CHARACTERS, min_size=1, max_size=4),
)
def test_a_match_means_a_real_substring(name: str, fragment: str) -> None:
    kept, wanted = searchable(name), searchable(fragment)
    phrase = fts_phrase("name", fragment)
    if phrase is None or not kept:
        return
    conn = fts()
    conn.execute("INSERT INTO t (rowid, name) VALUES (1, ?)", (indexed_terms(kept),))
    found = conn.execute("SELECT rowid FROM t WHERE t MATCH ?", (phrase,)).fetchall() == [(1,)]
    assert found == (wanted.lower() in kept.lower())


def test_searchable_keeps_exactly_the_alphanumeric_characters() -> None:
    every = "".join(map(chr, range(0x110000)))
    assert searchable(every) == "".join(ch for ch in every if ch.isalnum())

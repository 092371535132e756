"""Text for the ear: sentence splitting of a streamed reply, and Markdown-free speakable text.

The model's reply arrives in small deltas; `SentenceStream` hands out each sentence
as soon as it is certainly complete, so the first one is spoken while the rest is
still being generated.  `speakable` then turns one such sentence (or any model
output) into plain words Piper can say.  Typical use:

    stream = SentenceStream()
    for delta in reply:
        for sentence in stream.push(delta):
            say(speakable(sentence))      # skip it when speakable() returns ""
    for sentence in stream.flush():
        say(speakable(sentence))
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from voice.thinking import strip_thinking

# ---------------------------------------------------------------- sentence splitting

# Closing quotes, brackets and Markdown emphasis stay with the sentence they end.
_CLOSERS = "\"'\u201d\u2019)]}\u00bb*_`"
_EVENT = re.compile(
    r"(?P<fence>^[ \t]{0,3}(?:`{3,}|~{3,}))"
    r"|(?P<nl>\n)"
    r"|(?P<term>(?:\.{2,}|\u2026|[.!?;:])+[" + re.escape(_CLOSERS) + r"]*)"
    r"|(?P<comma>,)"
    # A dash between clauses: an em dash anywhere, or a spaced hyphen, double hyphen or en dash.
    r"|(?P<dash>\u2014+|(?<!\S)(?:-{1,2}|\u2013)(?=\s))",
    re.M | re.I,
)
# Never end a sentence after these, whatever follows ("Dr. Smith", "e.g. Python").
_NEVER_END = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "sr",
        "jr",
        "mt",
        "ft",
        "gen",
        "sen",
        "rep",
        "rev",
        "fr",
        "capt",
        "lt",
        "col",
        "sgt",
        "vs",
        "e.g",
        "i.e",
        "cf",
        "approx",
    ]
)
_OPENERS = "\"'\u201c\u2018([{*_`"


def _is_sentence_end(text: str, m: re.Match[str], next_char: str) -> bool:
    """Whether the terminator run `m`, followed by whitespace and then `next_char`, ends a sentence."""
    core = m.group("term").rstrip(_CLOSERS)
    if core[-1] in ";:":
        return True
    if next_char.islower():
        return False  # "approx. five", "5 p.m. tomorrow", '"Really?" she asked'
    if ".." in core or "\u2026" in core:
        return next_char.isupper()  # "Wait... what?" stays one; "I thought... Never mind." splits
    if core[-1] in "!?":
        return True
    start = m.start()
    token_start = start
    while token_start > 0 and not text[token_start - 1].isspace():
        token_start -= 1
    token = text[token_start:start].lstrip(_OPENERS)
    if token.lower() in _NEVER_END:
        return False
    if len(token) == 1 and token.isupper() and next_char.isupper():
        return False  # initials: "J. R. R. Tolkien"
    line_start = text.rfind("\n", 0, token_start) + 1
    is_list_marker = text[line_start:token_start].strip() in ("", ">") and (
        token.isdigit() or (len(token) == 1 and token.isalpha())
    )
    return not is_list_marker  # "1. Preheat the oven" is a list marker, not a sentence end


# The first piece of a reply may end at a clause boundary once it has this many words (SentenceStream).
FIRST_CLAUSE_WORDS = 4
_PAIRS = (("(", ")"), ("[", "]"), ("{", "}"), ("\u201c", "\u201d"))  # not \u2018\u2019: \u2019 is an apostrophe too


def _inside_quotes_or_brackets(text: str) -> bool:
    """Whether `text` leaves a quote, bracket or inline code span open (a cut there would split it)."""
    if text.count('"') % 2 or text.count("`") % 2:
        return True
    return any(text.count(a) > text.count(b) for a, b in _PAIRS)


class SentenceStream:
    """Split streamed text into speakable sentences, the same way however it is chunked.

    Sentences end at . ! ? ; : (followed by whitespace), at newlines (paragraphs, list
    items, table rows), but not after abbreviations, initials or list numbers, inside
    decimals, versions, times, URLs or e-mails (no space follows the dot there), or at an
    ellipsis followed by a lower-case word.  A boundary is only decided once the next
    non-space character has arrived, which is what makes the result independent of chunking.

    Fenced code blocks are never split: each comes out whole (with
    whatever short text preceded it), for `speakable` to replace or drop.

    Short fragments: a piece with no letters or digits ("---", "|---|---|") always joins
    the next sentence.  Other pieces shorter than `min_chars` join the next sentence too
    ("- Eggs" + "- Milk"), so speech is not choppy -- except the very first one, which goes
    out alone when it has two or more letters ("Okay.", "Sure!"), because the first
    sentence decides how soon the user hears anything.

    `first_min_chars`: when set, the first sentence may also end at a comma once it is
    that long, for faster first audio (off by default).

    `first_clause_words` (FIRST_CLAUSE_WORDS = 4 is the tuned value; off by default): the first
    piece of a reply may end at a clause boundary (a comma or a dash; semicolons and colons end
    every sentence anyway) once it holds that many words, so speech starts on the first clause
    of a long first sentence. Later pieces stay whole sentences. Never inside a number
    ("1,000" has no space after its comma), after an abbreviation ("e.g.,"), between digits
    ("5 - 10"), at a list dash, or inside quotes, brackets or inline code.
    """

    def __init__(
        self, first_min_chars: int | None = None, min_chars: int = 8, first_clause_words: int | None = None
    ) -> None:
        self.first_min_chars = first_min_chars
        self.min_chars = min_chars
        self.first_clause_words = first_clause_words
        self._reset()

    def _reset(self) -> None:
        self._text = ""  # unsent text, kept from the start of its first line
        self._start = 0  # where the unsent part begins in _text
        self._emitted = 0  # sentences handed out so far

    def push(self, delta: str) -> list[str]:
        """Add a delta; return the sentences it completed (often none)."""
        if not delta:
            return []
        self._text += delta.replace("\r\n", "\n").replace("\r", "\n")
        return self._drain(final=False)

    def flush(self) -> list[str]:
        """End of the reply: return what is left. The stream is then empty and reusable."""
        out = self._drain(final=True)
        rest = self._text[self._start :].strip()
        if rest:
            out.append(rest)
        self._reset()
        return out

    def _first_clause_ends(self, text: str, seg: int, m: re.Match[str], next_char: str) -> bool:
        """Whether the first piece (from `seg`) may end at the comma or dash `m`, followed by `next_char`."""
        if not self.first_clause_words or self._emitted:
            return False
        piece = text[seg : m.start()]
        if sum(any(ch.isalnum() for ch in word) for word in piece.split()) < self.first_clause_words:
            return False
        if _inside_quotes_or_brackets(piece):
            return False
        before = piece.rstrip()
        if m.lastgroup == "dash":
            line = text[text.rfind("\n", 0, m.start()) + 1 : m.start()]
            if not line.strip() or line.lstrip()[:1] in "-*+>|":  # a list item's dash, a quote, a table
                return False
        if before[-1:].isdigit() and next_char.isdigit():
            return False  # a range or a run of numbers: "5 - 10", "5\u201410", "1, 2, 3"
        token = before.split()[-1].lstrip(_OPENERS).rstrip(".").lower() if before.split() else ""
        return token not in _NEVER_END and token != "etc"

    def _too_short(self, piece: str, first: bool) -> bool:
        letters = sum(ch.isalnum() for ch in piece)
        if letters == 0:
            return True
        if first:
            return letters < 2
        return len(piece) < self.min_chars

    def _drain(self, final: bool) -> list[str]:
        text, n = self._text, len(self._text)
        out: list[str] = []
        seg = self._start

        def cut(at: int, forced: bool = False) -> None:
            nonlocal seg
            piece = text[seg:at].strip()
            if not piece:
                seg = at
                return
            if not forced and self._too_short(piece, first=self._emitted == 0):
                return  # hold it; it joins the next sentence
            out.append(piece)
            seg = at
            self._emitted += 1

        i = seg
        while i < n:
            m = _EVENT.search(text, i)
            if m is None:
                break
            kind = m.lastgroup
            if kind == "fence":
                end = self._fence_end(text, m, final)
                if end is None:
                    break
                i = end
                cut(i, forced=True)
            elif kind == "nl":
                i = m.end()
                cut(i)
            else:
                end = m.end()
                if kind == "dash" and (not self.first_clause_words or self._emitted):
                    i = end  # dashes matter only to the first piece
                    continue
                if end == n:
                    if final:
                        cut(n)
                    break  # not final: the next delta may extend it ("3." -> "3.5", '."')
                if kind == "dash" and not text[end].isspace():  # "sunny\u2014with rain": the next word decides
                    if self._first_clause_ends(text, seg, m, text[end]):
                        cut(end)
                    i = end
                    continue
                if not text[end].isspace():
                    i = end
                    continue
                j = end
                while j < n and text[j].isspace():
                    j += 1
                if j == n and not final:
                    break  # need the next word to decide
                next_char = text[j] if j < n else ""
                if kind == "term":
                    if _is_sentence_end(text, m, next_char):
                        cut(end)
                elif (
                    kind == "comma"
                    and self.first_min_chars
                    and self._emitted == 0
                    and len(text[seg : m.start()].strip()) >= self.first_min_chars
                ) or self._first_clause_ends(text, seg, m, next_char):
                    cut(end)
                i = end
        # Forget sent text, but keep its line: the list-marker and fence rules look back to the line start.
        line_start = self._text.rfind("\n", 0, seg) + 1
        self._text = self._text[line_start:]
        self._start = seg - line_start
        return out

    @staticmethod
    def _fence_end(text: str, m: re.Match[str], final: bool) -> int | None:
        """End of the fenced block opened at `m` (after its closing line), or None if not yet known."""
        opener = m.group("fence").strip()
        line_end = text.find("\n", m.end())
        if line_end < 0:
            return len(text) if final else None
        closing = re.compile(
            r"^[ \t]{0,3}" + re.escape(opener[0]) + "{" + str(len(opener)) + r",}[ \t]*(?:\n|\Z)", re.M
        )
        close = closing.search(text, line_end + 1)
        if close is None or (close.end() == len(text) and not text.endswith("\n") and not final):
            return len(text) if final else None
        return close.end()


# ---------------------------------------------------------------- speakable text

CODE_NOTE = "Code block skipped."  # spoken in place of a fenced code block

_URL = re.compile(r"\b(?:(?:https?|tcp|ftp)://|www\.)[^\s<>\"'`]+", re.I)
# Machine text a person would not read out: a bare address, a shell line, a file path, a variable name.
_HOST_PORT = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b|\blocalhost:\d+\b", re.I)
_SHELL = re.compile(r"\b(?:ba|z)?sh -c (?:'[^']*'|\"[^\"]*\"|\S+)")
_SEG = r"/[\w.+-]*[\w+-]"  # a path segment; a dot that ends the sentence is not part of it
_PATH = re.compile(rf"(?<![\w/])(?:~|\.{{1,2}})?(?:{_SEG}){{2,}}/?|(?<![\w/])~{_SEG}")
_IDENT = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:[_.][A-Za-z0-9]+)*_[A-Za-z0-9_.]*[A-Za-z0-9]\b")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_PIPE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_DELIMITER_ROW = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")
_TERMINAL = ".!?:;,"
_SYMBOLS = [
    (re.compile(r"\s*(?:°\s*C|℃)\b"), " degrees Celsius"),
    (re.compile(r"\s*(?:°\s*F|℉)\b"), " degrees Fahrenheit"),
    (re.compile(r"\s*°"), " degrees"),
    (re.compile(r"\s*%"), " percent"),
    (re.compile(r"\s*&\s*"), " and "),
    (re.compile(r"\s*(?:->|=>|→|⟶|⇒)\s*"), " to "),
    (re.compile(r"(?<=\d)\s*[–—]\s*(?=\d)"), " to "),  # "5–10" -> "5 to 10"
    (re.compile(r"\s*—\s*"), ", "),
    (re.compile(r"(?<=\d)\s*[×*]\s*(?=\d)"), " times "),
    (re.compile(r"~\s*(?=\d)"), "about "),
    (re.compile(r"#(?=\d)"), "number "),
]
_SKIN_TONES = range(0x1F3FB, 0x1F400)
_TAG_CHARS = range(0xE0020, 0xE0080)
_INVISIBLE = {"\ufe0e", "\ufe0f", "\u200d", "\u20e3"}


@functools.lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt  # imported on first use: keeps `hark --help` fast

    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.disable("code")  # 4-space indents are not code in chat replies; speak them
    return md


def _strip_thinking(text: str) -> str:
    # Reasoning is removed by the one think filter (voice/thinking.py); HTML comments here.
    return _HTML_COMMENT.sub(" ", strip_thinking(text))


def _domain(url: str) -> str:
    try:
        host = urlsplit(url if "://" in url else "http://" + url).hostname or ""
    except ValueError:  # not a URL after all ("https://[bad", brackets from markup): say no address
        host = ""
    host = host if re.fullmatch(r"[A-Za-z0-9.-]+", host or "") else ""
    return host[4:] if host.startswith("www.") else host


def _speak_url(m: re.Match[str]) -> str:
    url = m.group(0)
    trailing = ""
    while url and url[-1] in ".,;:!?)]":
        trailing = url[-1] + trailing
        url = url[:-1]
    domain = _domain(url)
    web = url.lower().startswith(("http", "www."))
    if not web or domain == "localhost" or re.fullmatch(r"[\d.]+", domain):
        return "a network address" + trailing  # a server's address: the log and the screen have it
    return (f"a link to {domain}" if domain else "a link") + trailing


def _say_path(match: re.Match[str]) -> str:
    """A file path as a person would say it: "~/notes/todo.md" is "the todo file in your notes folder"."""
    parts = [p for p in match.group(0).split("/") if p not in ("", "~", ".", "..")]
    if not parts:
        return "a folder"
    name = parts[-1]
    stem = name.rsplit(".", 1)[0] if "." in name.strip(".") else name
    stem = stem.replace("_", " ").replace("-", " ")
    where = f" in your {parts[-2].replace('_', ' ')} folder" if len(parts) >= 2 else ""
    return f"the {stem} file{where}" if "." in name.strip(".") else f"the {stem} folder{where}"


def _machine_words(text: str) -> str:
    """Addresses, shell lines, paths and variable names as a person would say them (the screen shows them)."""
    text = _URL.sub(_speak_url, text)
    text = _HOST_PORT.sub("a network address", text)
    text = _SHELL.sub("a shell command", text)
    text = _PATH.sub(_say_path, text)
    return _IDENT.sub(lambda m: re.sub(r"[_.]+", " ", m.group(0)), text)


def _speak_email(m: re.Match[str]) -> str:
    local, domain = m.group(0).split("@", 1)
    local = local.replace(".", " dot ").replace("+", " plus ")
    return f"{local} at {domain.replace('.', ' dot ')}"


def _drop_pictographs(text: str) -> str:
    kept = []
    for ch in text:
        cp = ord(ch)
        if ch in _INVISIBLE or cp in _SKIN_TONES or cp in _TAG_CHARS:
            continue
        if unicodedata.category(ch) in ("So", "Co", "Cs"):
            continue
        kept.append(ch)
    return "".join(kept)


def _clean(text: str) -> str:
    """Plain words from one rendered block: links, e-mails, symbols, emoji, stray markup."""
    text = _TAG.sub(" ", text)
    text = _machine_words(text)
    text = _EMAIL.sub(_speak_email, text)
    for pattern, spoken in _SYMBOLS:
        text = pattern.sub(spoken, text)
    text = _drop_pictographs(text)
    text = re.sub(r"\*+|`+|~~+|(?<!\w)_+|_+(?!\w)", "", text)  # emphasis left unmatched by a split
    text = re.sub(r"^\s*#+\s+", "", text)
    text = re.sub(r"\(\s*\)|\[\s*\]", "", text)
    text = " ".join(text.split())
    text = re.sub(r"\s+([.,!?;:)\]])", r"\1", text)
    text = re.sub(r"([(\[])\s+", r"\1", text)
    return re.sub(r"^[\s.,;:!?]+", "", text).strip()


def _sentence(text: str) -> str:
    """A cleaned block that ends like a sentence, or "" if nothing speakable is left."""
    text = _clean(text)
    if not any(ch.isalnum() for ch in text):
        return ""
    if text.rstrip(_CLOSERS)[-1:] not in _TERMINAL:
        text += "."
    return text


def _inline_text(token: Any) -> str:
    parts = []
    struck = 0  # struck-out text was withdrawn by the writer: not said
    for child in token.children or []:
        if child.type in ("s_open", "s_close"):
            struck += 1 if child.type == "s_open" else -1
        elif struck > 0:
            continue
        elif child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)  # its alt text
        elif child.type == "html_inline" and child.content.lower().startswith("<br"):
            parts.append(" ")
    return "".join(parts)


def _pipe_rows(content: str) -> list[str] | None:
    """Table rows that reached us without their header (a streamed sentence), else None."""
    lines = [line for line in content.split("\n") if line.strip()]
    if not lines or not all(_PIPE_ROW.match(line) for line in lines):
        return None
    md, rows = _markdown(), []
    for line in lines:
        if _DELIMITER_ROW.match(line):
            continue
        cells = [_clean(_inline_text(md.parseInline(cell.strip())[0])) for cell in line.strip().strip("|").split("|")]
        rows.append(_sentence(", ".join(c for c in cells if c)))
    return rows


def speakable(text: str) -> str:
    """Model output made speakable: no Markdown, thinking, code, URLs, paths, shell lines, emoji or HTML."""
    if not text:
        return ""
    text = _strip_thinking(text.replace("\r\n", "\n"))
    tokens = _markdown().parse(text)
    blocks: list[str] = []
    row: list[str] | None = None
    for _i, tok in enumerate(tokens):
        if tok.type in ("fence", "code_block"):
            blocks.append(CODE_NOTE)
        elif tok.type == "html_block":
            blocks.append(_sentence(html.unescape(_TAG.sub(" ", tok.content))))
        elif tok.type == "tr_open":
            row = []
        elif tok.type == "tr_close" and row is not None:
            blocks.append(_sentence(", ".join(c for c in row if c)))
            row = None
        elif tok.type == "inline":
            if row is not None:
                row.append(_clean(_inline_text(tok)))
                continue
            rows = _pipe_rows(tok.content) if "|" in tok.content else None
            blocks.extend(rows if rows is not None else [_sentence(_inline_text(tok))])
    return " ".join(b for b in blocks if b)

"""Japanese text and date codecs: 和暦 (era dates), kana search keys and 異体字 (kanji variants).

Pure standard-library code. Stored values keep their exact characters; the keys built here are
only for searching and matching.
"""

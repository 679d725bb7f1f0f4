"""The README written onto every medium: verify and decrypt with standard tools (ja / en)."""

from __future__ import annotations

_JA = """\
この媒体は sesshu（予防接種記録端末）が作成した暗号化データです。

1. 改ざんの確認（sha256sum）
   sha256sum -c tagmanifest-sha256.txt
   sha256sum -c manifest-sha256.txt
   すべて OK であることを確認してください。sesshu がある場合は
   sesshu media verify <この媒体> --signer <送付元端末の公開鍵ファイル>
   で署名と監査チェックポイントも確認できます。

2. 復号（age）
{decrypt_ja}
   復号したデータは個人情報です。取扱いの定めに従い、期限までに消去し、消去報告をしてください。
"""

_EN = """\
This medium holds encrypted data written by sesshu (vaccination records terminal).

1. Check integrity (sha256sum)
   sha256sum -c tagmanifest-sha256.txt
   sha256sum -c manifest-sha256.txt
   Every line must say OK. With sesshu installed,
   sesshu media verify <this medium> --signer <the sending terminal's public key file>
   also checks the signature and the audit checkpoint.

2. Decrypt (age)
{decrypt_en}
   The decrypted data is personal information: handle it as agreed, erase it by the deadline and
   report the erasure.
"""

_RECIPIENT_JA = (
    "   age -d -i <受取機関の age 秘密鍵ファイル> -o <出力ファイル> data/<ファイル名>.age"
)
_RECIPIENT_EN = "   age -d -i <your organisation's age identity file> -o <output> data/<name>.age"
_PASSPHRASE_JA = """\
   パスワードは別便で届きます。
   age -d -o identity.txt identity.age      （パスワードを入力）
   age -d -i identity.txt -o <出力ファイル> data/<ファイル名>.age
   終わったら identity.txt を消去してください。"""
_PASSPHRASE_EN = """\
   The passphrase is delivered separately.
   age -d -o identity.txt identity.age      (enter the passphrase)
   age -d -i identity.txt -o <output> data/<name>.age
   Erase identity.txt when done."""


def readme_text(*, passphrase_mode: bool) -> str:
    ja = _JA.format(decrypt_ja=_PASSPHRASE_JA if passphrase_mode else _RECIPIENT_JA)
    en = _EN.format(decrypt_en=_PASSPHRASE_EN if passphrase_mode else _RECIPIENT_EN)
    return ja + "\n" + "-" * 72 + "\n\n" + en

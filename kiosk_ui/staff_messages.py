"""Text of the staff sign-in, lock, account and reveal screens, in Japanese and English.

Kept beside the main catalog (``kiosk_ui.messages``) so the staff screens can change on their
own. One message serves an unknown staff ID and a wrong password alike: the screen must not
tell which staff IDs exist.
"""

from __future__ import annotations

_JA = {
    "staff.signin.title": "職員サインイン",
    "staff.signin.hint": "職員IDとパスワードを入力してください",
    "staff.id": "職員ID",
    "staff.password": "パスワード",
    "staff.signin": "サインイン",
    "staff.signout": "サインアウト",
    "staff.next": "次へ",
    "staff.shift": "大文字",
    "staff.backspace": "1字消す",
    "staff.login_failed": "職員IDまたはパスワードが違います",
    "staff.locked": "このアカウントはロックされています。管理者に解除を依頼してください",
    "staff.retry_later": "しばらく待ってから、もう一度入力してください",
    "staff.required": "職員のサインインが必要です",
    "staff.forbidden": "このアカウントではこの操作はできません",
    "staff.password_wrong": "パスワードが違います",
    "staff.unavailable": "ただいま処理できません。しばらくお待ちください",
    "staff.no_result": "表示できる結果がありません",
    "staff.not_found": "その職員IDはありません",
    "staff.locked_idle": "操作がなかったため、画面をロックしました",
    "staff.signed_out": "サインアウトしました",
    "staff.signed_in_as": "職員: {id}",
    "staff.role.clerk": "担当者",
    "staff.role.supervisor": "管理者",
    "staff.admin": "アカウント管理",
    "staff.admin.title": "アカウントと集計",
    "staff.admin.close": "閉じる",
    "staff.admin.unlock": "ロック解除",
    "staff.admin.locked": "ロック中",
    "staff.admin.disabled": "無効",
    "staff.admin.report": "過去30日の確認件数",
    "staff.admin.reveals": "個人番号の表示",
    "staff.reveal.title": "個人番号を表示するには、パスワードをもう一度入力してください",
    "staff.reveal.ok": "表示する",
    "staff.reveal.cancel": "やめる",
}

_EN = {
    "staff.signin.title": "Staff sign-in",
    "staff.signin.hint": "Enter your staff ID and password",
    "staff.id": "Staff ID",
    "staff.password": "Password",
    "staff.signin": "Sign in",
    "staff.signout": "Sign out",
    "staff.next": "Next",
    "staff.shift": "Shift",
    "staff.backspace": "Delete",
    "staff.login_failed": "Wrong staff ID or password",
    "staff.locked": "This account is locked. Ask a supervisor to unlock it",
    "staff.retry_later": "Please wait a moment, then try again",
    "staff.required": "A member of staff must sign in",
    "staff.forbidden": "This account may not do that",
    "staff.password_wrong": "Wrong password",
    "staff.unavailable": "Not available just now. Please wait",
    "staff.no_result": "There is no result to show",
    "staff.not_found": "No such staff ID",
    "staff.locked_idle": "The screen was locked after a period without use",
    "staff.signed_out": "Signed out",
    "staff.signed_in_as": "Staff: {id}",
    "staff.role.clerk": "clerk",
    "staff.role.supervisor": "supervisor",
    "staff.admin": "Accounts",
    "staff.admin.title": "Accounts and counts",
    "staff.admin.close": "Close",
    "staff.admin.unlock": "Unlock",
    "staff.admin.locked": "locked",
    "staff.admin.disabled": "disabled",
    "staff.admin.report": "Checks in the last 30 days",
    "staff.admin.reveals": "My Number reveals",
    "staff.reveal.title": "To show the My Number, enter your password again",
    "staff.reveal.ok": "Show",
    "staff.reveal.cancel": "Cancel",
}

STAFF_CATALOGS: dict[str, dict[str, str]] = {"ja": _JA, "en": _EN}

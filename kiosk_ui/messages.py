"""Every string the kiosk shows, in Japanese and English, keyed by screen and by ErrorCode.

The catalog is the only source of text: the page receives it once as JSON (a non-executable
``<script type="application/json">`` block, so the CSP stays strict) and picks the language
in memory. Agent error codes map to a title and to what the person should do next; the
agent's free-text ``message``, status words, hex and exception text are never shown.
Advice for a blocked signature password follows card-protocol.md §7.3 (municipal office, or a
convenience-store kiosk with the smartphone app when the 4-digit PIN is known).
"""

from __future__ import annotations

from typing import Final

LANGS: Final = ("ja", "en")
STAFF_PREFIX: Final = "staff:"

_JA: dict[str, str] = {
    "lang.switch": "English",
    "app.title": "本人確認",
    "staff.badge": "職員モード",
    "flow.choice": "確認方法",
    "flow.face": "券面確認",
    "flow.number": "個人番号",
    "result.my_number": "個人番号",
    "reveal.show": "表示する",
    "reveal.hide": "隠す",
    "test.banner": "テスト用です。本物のカードの確認結果ではありません",
    "idle.title": "カードをかざしてください",
    "idle.hint": "マイナンバーカードを読み取り機の上に置いてください",
    "no_reader.title": "読み取り機が見つかりません",
    "no_reader.hint": "係員をお呼びください",
    "card_present.title": "カードを確認しています",
    "keep_still": "カードを動かさないでください",
    "entry.title.sign_password": "署名用電子証明書のパスワードを入力してください",
    "entry.title.auth_pin": "利用者証明用の暗証番号（数字4桁）を入力してください",
    "entry.title.input_helper_pin": "券面事項入力補助用の暗証番号（数字4桁）を入力してください",
    "entry.title.match_b": "照合番号B（14桁）を入力してください",
    "entry.hint.sign_password": "英大文字と数字で6〜16文字",
    "entry.hint.auth_pin": "数字4桁",
    "entry.hint.input_helper_pin": "数字4桁",
    "entry.hint.match_b": "生年月日（和暦YYMMDD）＋有効期限の西暦年＋セキュリティコード",
    "entry.tries_left": "残り{n}回まで入力できます",
    "match_b.birth": "生年月日（6桁）",
    "match_b.birth_hint": (
        "和暦の年2桁と月日（平成2年4月1日なら020401）。"
        "外国籍の方のカードは西暦の下2桁と月日（1992年7月4日なら920704）"
    ),
    "match_b.expiry": "有効期限の年（西暦4桁）",
    "match_b.expiry_hint": "カード表面の有効期限の年（2035など）",
    "match_b.code": "セキュリティコード（4桁）",
    "match_b.code_hint": "カード表面に記載の4桁の数字",
    "match_b.bad_month": "生年月日の月は01から12です",
    "match_b.bad_day": "生年月日の日がその月にありません",
    "match_b.bad_year": "有効期限の年は西暦4桁です（2015年以降）",
    "entry.ok": "決定",
    "entry.clear": "1文字消す",
    "entry.cancel": "やめる",
    "entry.sending": "送信しています…",
    "last_try.title": "入力できるのはあと1回です",
    "last_try.body": (
        "次に間違えるとロックされ、市区町村の窓口での手続きが必要になります。続けますか？"
    ),
    "last_try.continue": "続ける（あと1回）",
    "confirm_b.title": "この番号で照会しますか？",
    "confirm_b.send": "送信する",
    "confirm_b.fix": "修正する",
    "reading.title": "読み取り中です",
    "step.select": "カードを確認",
    "step.check_sign_certificate": "署名用電子証明書の有無を確認",
    "step.read_retry_counter": "残り回数を確認",
    "step.verify_pin": "パスワードを照合",
    "step.read_certificate": "証明書を読み取り",
    "step.read_ca_certificate": "発行元の証明書を読み取り",
    "step.validate_chain": "証明書を検証",
    "step.parse_identity": "氏名・住所などを取り出し",
    "step.sign_challenge": "カードで確認",
    "step.verify_possession": "本物のカードか確認",
    "step.get_challenge": "確認の準備",
    "step.read_face": "券面情報を読み取り",
    "step.read_cvc": "カード証明書を読み取り",
    "step.verify_cvc": "カード証明書を検証",
    "step.verify_record": "券面情報の署名を検証",
    "step.read_my_number": "個人番号を読み取り",
    "step.read_basic_info": "基本4情報を読み取り",
    "step.read_integrity": "完全性情報を読み取り",
    "step.read_text_retry_counter": "文字情報の残り回数を確認",
    "step.verify_text_match_b": "文字情報を照合番号Bで開く",
    "step.read_text_cvc": "文字情報のカード証明書を読み取り",
    "step.verify_text_record": "氏名・住所の文字を検証",
    "step.other": "処理中",
    "result.title": "確認できました",
    "result.title.unverified": "読み取りました（検証されていません）",
    "result.name": "氏名",
    "result.address": "住所",
    "result.birth": "生年月日",
    "result.sex": "性別",
    "result.cert_expiry": "証明書の有効期限",
    "result.card_expiry": "カードの有効期限",
    "result.photo": "顔写真",
    "result.remove_hint": "確認が終わったら「終了」を押して、カードをお取りください",
    "result.name_image": "氏名（券面）",
    "result.address_image": "住所（券面）",
    "result.substitute": "（外字を含むため一部代替文字で表示）",
    "badge.chain": "正規の電子証明書です",
    "badge.revocation-checked": "失効していません",
    "badge.chain_no_revocation": "失効は確認していません",
    "badge.possession": "本物のカードです",
    "badge.record-signature": "券面の情報は書き換えられていません",
    "badge.record-signature.number": "個人番号と氏名などは書き換えられていません",
    "badge.not-verified": "読み取りのみ（確認はしていません）",
    "unverified.note": "発行者の鍵が設定されていないため、この券面情報は検証されていません。",
    "remove.title": "カードをお取りください",
    "record.title": "確認記録",
    "record.time": "確認日時",
    "record.reference": "照会番号",
    "record.method": "確認方法",
    "record.visual": "目視確認",
    "record.visual_confirm": "目視で本人と一致を確認しました",
    "record.visual_done": "本人と一致（{time}に確認）",
    "record.visual_pending": "まだ確認していません",
    "record.print": "印刷",
    "record.datetime": "{y}年{m}月{d}日{hh}時{mm}分（日本時間）",
    "record.method.face": "ICチップの券面事項確認APを照合番号Bで読み取り",
    "record.method.number": "ICチップの券面事項入力補助APを暗証番号で読み取り",
    "record.method.sign": "ICチップの署名用電子証明書をパスワードで読み取り",
    "record.method.auth": "ICチップの利用者証明用電子証明書を暗証番号で読み取り",
    "record.check.chain": "証明書チェーンを検証",
    "record.check.revocation-checked": "失効していないことを確認",
    "record.check.possession": "カードの秘密鍵による署名で本物のカードと確認",
    "record.check.record-signature": "券面情報の署名を検証",
    "record.check.record-signature.number": "個人番号・基本4情報の署名を検証",
    "record.check.not-verified": "署名は未検証（発行者の鍵が未設定）",
    "record.join": "、",
    "record.text": "氏名・住所（文字）",
    "record.text.verified": "券面事項入力補助APの基本4情報を照合番号Bで読み取り、完全性を検証",
    "record.text.not-verified": "券面事項入力補助APから読み取り（署名は未検証）",
    "record.text.unavailable": "読み取れませんでした（券面の画像で確認してください）",
    "result.text_unavailable": (
        "氏名・住所の文字は読み取れませんでした。券面の画像で確認してください。"),
    "card_left.reminder": "カードが読み取り機に残っています。お取りください",
    "call_staff": "係員を呼ぶ",
    "call_staff.sent": "係員を呼びました。そのままお待ちください",
    "staff_call.notice": "受付の画面でお客様が呼んでいます（{time}）",
    "staff_call.answer": "対応しました",
    "removed.entry": "カードが離れたため、中止しました。続けるときは、もう一度置いてください。",
    "timeout.warning.entry": "操作がないため、あと{n}秒で最初の画面に戻ります",
    "timeout.warning.result": "あと{n}秒でこの画面を閉じます",
    "timeout.extend": "延長する",
    "timed_out.title": "時間切れになりました",
    "timed_out.entry": (
        "入力の時間が過ぎたため、最初に戻りました。カードをいったんお取りください。"
        "もう一度置くと、やり直せます。"
    ),
    "timed_out.result": "表示の時間が過ぎたため、画面を閉じました。カードをお取りください。",
    "remove.hint": "お忘れ物のないようご注意ください",
    "done": "終了",
    "unavailable.title": "ただいまご利用いただけません",
    "unavailable.hint": "しばらくお待ちください。続く場合は係員をお呼びください",
    "stale.title": "画面の情報が古くなっています",
    "stale.hint": "もう一度カードをかざしてください",
    "input.too_short": "文字数が足りません",
    "input.too_long": "文字数が多すぎます",
    "input.charset.sign_password": "英大文字と数字だけを使ってください",
    "input.charset.digits": "数字だけを入力してください",
    "input.match_b_length": "照合番号Bは14桁です（入力は{n}桁）",
    "input.needs_confirmation": "あと1回の確認が必要です",
    "input.duplicate": "すでに送信しました。結果をお待ちください",
    "input.bad_request": "入力を受け付けられませんでした",
    "input.session_expired": "画面を開き直してください",
    "era.gannen": "元",
    "date.format": "{y}年{m}月{d}日",
    "date.months": "1月,2月,3月,4月,5月,6月,7月,8月,9月,10月,11月,12月",
    "error.title": "確認できませんでした",
    "wrong.auth_pin": "暗証番号が違います",
    "wrong.input_helper_pin": "暗証番号が違います",
    "wrong.match_b": "照合番号Bが違います",
    "blocked.title.auth": "暗証番号がロックされています",
    "blocked.title.number": "暗証番号がロックされています",
    "blocked.title.face": "照合番号Bでの読み取りがロックされています",
    "blocked.action.other": "お住まいの市区町村の窓口で手続きしてください。",
}

_EN: dict[str, str] = {
    "lang.switch": "日本語",
    "app.title": "Identity check",
    "staff.badge": "Staff mode",
    "flow.choice": "What to check",
    "flow.face": "Card face",
    "flow.number": "My Number",
    "result.my_number": "My Number",
    "reveal.show": "Show",
    "reveal.hide": "Hide",
    "test.banner": "TEST: not a real card verification",
    "idle.title": "Tap your card",
    "idle.hint": "Place your My Number card on the reader",
    "no_reader.title": "No card reader found",
    "no_reader.hint": "Please call a member of staff",
    "card_present.title": "Checking your card",
    "keep_still": "Keep the card still",
    "entry.title.sign_password": "Enter your signature certificate password",
    "entry.title.auth_pin": "Enter your 4-digit user authentication PIN",
    "entry.title.input_helper_pin": "Enter your 4-digit card information PIN",
    "entry.title.match_b": "Enter check number B (照合番号B, 14 digits)",
    "entry.hint.sign_password": "6–16 capital letters and digits",
    "entry.hint.auth_pin": "4 digits",
    "entry.hint.input_helper_pin": "4 digits",
    "entry.hint.match_b": "Birth date (era YYMMDD) + expiry year + security code",
    "entry.tries_left": "{n} tries left",
    "match_b.birth": "Birth date (6 digits)",
    "match_b.birth_hint": "Japanese era year (2 digits), month, day: 1 Apr Heisei 2 becomes "
    "020401. Foreign residents' cards use the last 2 digits of the year: 4 Jul 1992 becomes 920704",
    "match_b.expiry": "Expiry year (4 digits)",
    "match_b.expiry_hint": "The year the card expires, as printed on the front (e.g. 2035)",
    "match_b.code": "Security code (4 digits)",
    "match_b.code_hint": "The 4-digit number printed on the front of the card",
    "match_b.bad_month": "The birth month must be 01 to 12",
    "match_b.bad_day": "That month has no such day",
    "match_b.bad_year": "The expiry year has 4 digits (2015 or later)",
    "entry.ok": "OK",
    "entry.clear": "Delete",
    "entry.cancel": "Cancel",
    "entry.sending": "Sending…",
    "last_try.title": "Only one try left",
    "last_try.body": "If this is wrong the password is locked and must be reset at your "
    "municipal office. Continue?",
    "last_try.continue": "Continue (last try)",
    "confirm_b.title": "Is this number right?",
    "confirm_b.send": "Send",
    "confirm_b.fix": "Edit",
    "reading.title": "Reading",
    "step.select": "Check the card",
    "step.check_sign_certificate": "Look for the signature certificate",
    "step.read_retry_counter": "Check tries left",
    "step.verify_pin": "Check the password",
    "step.read_certificate": "Read the certificate",
    "step.read_ca_certificate": "Read the issuer certificate",
    "step.validate_chain": "Verify the certificate",
    "step.parse_identity": "Read name, address, birth date and sex",
    "step.sign_challenge": "The card answers the check",
    "step.verify_possession": "Check the card is genuine",
    "step.get_challenge": "Get ready to check the card",
    "step.read_face": "Read the card face data",
    "step.read_cvc": "Read the card certificate",
    "step.verify_cvc": "Verify the card certificate",
    "step.verify_record": "Verify the card face signature",
    "step.read_my_number": "Read the My Number",
    "step.read_basic_info": "Read name, address, birth date and sex",
    "step.read_integrity": "Read the integrity record",
    "step.read_text_retry_counter": "Check tries left for the text",
    "step.verify_text_match_b": "Open the text with check number B",
    "step.read_text_cvc": "Read the text's card certificate",
    "step.verify_text_record": "Verify the name and address text",
    "step.other": "Working",
    "result.title": "Verified",
    "result.title.unverified": "Read (not verified)",
    "result.name": "Name",
    "result.address": "Address",
    "result.birth": "Date of birth",
    "result.sex": "Sex",
    "result.cert_expiry": "Certificate expires",
    "result.card_expiry": "Card expires",
    "result.photo": "Photo",
    "result.remove_hint": "When you are done, press Done and take your card",
    "result.name_image": "Name (card face)",
    "result.address_image": "Address (card face)",
    "result.substitute": "(some characters replaced by substitutes)",
    "badge.chain": "Genuine certificate",
    "badge.revocation-checked": "Not revoked",
    "badge.chain_no_revocation": "Revocation not checked",
    "badge.possession": "Genuine card",
    "badge.record-signature": "Card data not altered",
    "badge.record-signature.number": "My Number data not altered",
    "badge.not-verified": "Read only, not verified",
    "unverified.note": "No issuer key is configured, so this card face data is not verified.",
    "remove.title": "Please remove your card",
    "record.title": "Verification record",
    "record.time": "Checked at",
    "record.reference": "Reference",
    "record.method": "Method",
    "record.visual": "Visual check",
    "record.visual_confirm": "I checked the photo against the person",
    "record.visual_done": "Matches the person (checked at {time})",
    "record.visual_pending": "Not checked yet",
    "record.print": "Print",
    "record.datetime": "{d} {mon} {y}, {hh}:{mm} JST",
    "record.method.face": "IC chip read: card face application opened with check number B",
    "record.method.number": "IC chip read: card information application opened with the PIN",
    "record.method.sign": "IC chip read: signature certificate opened with the password",
    "record.method.auth": "IC chip read: user certificate opened with the PIN",
    "record.check.chain": "certificate chain verified",
    "record.check.revocation-checked": "not revoked",
    "record.check.possession": "card proved genuine by a private-key signature",
    "record.check.record-signature": "card face record signature verified",
    "record.check.record-signature.number": "My Number record signature verified",
    "record.check.not-verified": "signature not verified (no issuer key configured)",
    "record.join": "; ",
    "record.text": "Name and address (text)",
    "record.text.verified": (
        "read from the card information application with check number B; integrity verified"),
    "record.text.not-verified": (
        "read from the card information application (signature not verified)"),
    "record.text.unavailable": "could not be read (use the card face images)",
    "result.text_unavailable": (
        "The name and address could not be read as text. Use the card face images."),
    "card_left.reminder": "Your card is still on the reader. Please take it",
    "call_staff": "Call staff",
    "call_staff.sent": "Staff have been called. Please wait here",
    "staff_call.notice": "A customer is asking for help at the kiosk ({time})",
    "staff_call.answer": "Done",
    "removed.entry": "The card was taken away, so we stopped. To go on, place it again.",
    "timeout.warning.entry": "No activity: going back to the start in {n} seconds",
    "timeout.warning.result": "This screen closes in {n} seconds",
    "timeout.extend": "More time",
    "timed_out.title": "Time ran out",
    "timed_out.entry": (
        "The time to enter ran out, so we started over. Please take your card, then place "
        "it again to try again."
    ),
    "timed_out.result": "The result has been closed. Please take your card.",
    "remove.hint": "Don't forget your belongings",
    "done": "Done",
    "unavailable.title": "Temporarily unavailable",
    "unavailable.hint": "Please wait. If this continues, call a member of staff",
    "stale.title": "This screen is out of date",
    "stale.hint": "Please tap your card again",
    "input.too_short": "Too short",
    "input.too_long": "Too long",
    "input.charset.sign_password": "Use capital letters A–Z and digits only",
    "input.charset.digits": "Digits only",
    "input.match_b_length": "Check number B has 14 digits (you entered {n})",
    "input.needs_confirmation": "Please confirm that you want to use your last try",
    "input.duplicate": "Already sent. Please wait for the result",
    "input.bad_request": "The input could not be accepted",
    "input.session_expired": "Please reload this screen",
    "era.gannen": "1",
    "date.format": "{d} {mon} {y}",
    "date.months": "Jan,Feb,Mar,Apr,May,Jun,Jul,Aug,Sep,Oct,Nov,Dec",
    "error.title": "Could not verify",
    "wrong.auth_pin": "Wrong PIN",
    "wrong.input_helper_pin": "Wrong PIN",
    "wrong.match_b": "Check number B is wrong",
    "blocked.title.auth": "The PIN is locked",
    "blocked.title.number": "The PIN is locked",
    "blocked.title.face": "Check number B is locked on this card",
    "blocked.action.other": "Please go to your municipal office.",
}

# The staff screen (/staff) speaks to the clerk, not to the public: what happened, what to tell
# the customer and what to do next. Keys here override the public text on the staff screen
# only (the page looks up "staff:<key>" first).
_STAFF_JA: dict[str, str] = {
    "idle.title": "お客様のカードを読み取り機に置いてください",
    "idle.hint": "マイナンバーカードを表面を上にして置きます",
    "no_reader.hint": "読み取り機のケーブルと電源を確認してください",
    "unavailable.hint": (
        "本人確認サービスが応答していません。続く場合はシステム管理者に連絡してください"
    ),
    "entry.hint.match_b": "カード表面の生年月日・有効期限の年・セキュリティコードの14桁です",
    "entry.hint.input_helper_pin": "お客様に数字4桁の暗証番号を入力していただいてください",
    "last_try.body": (
        "次に間違えるとロックされ、お客様は市区町村の窓口での手続きが必要になります。"
        "番号をお客様と確認してから続けてください。"
    ),
    "result.remove_hint": "確認が終わったら「終了」を押し、カードをお客様にお返しください",
    "badge.chain": "証明書チェーン検証済",
    "badge.revocation-checked": "失効確認済",
    "badge.chain_no_revocation": "失効は未確認",
    "badge.possession": "カードの秘密鍵による署名を確認",
    "badge.record-signature": "券面事項確認APの署名を検証済",
    "badge.record-signature.number": "個人番号・基本4情報の署名を検証済",
    "badge.not-verified": "読み取りのみ・署名は未検証",
    "remove.title": "カードをお客様にお返しください",
    "remove.hint": "カードが読み取り機から離れると、次のお客様を受け付けます",
    "blocked.action.other": (
        "お客様に、お住まいの市区町村の窓口で再設定が必要とお伝えください。"
        "本人確認はほかの本人確認書類で行ってください。"
    ),
    "timed_out.entry": (
        "入力の時間が過ぎたため、最初に戻りました。カードを読み取り機に置き直すと、やり直せます。"
    ),
    "timed_out.result": (
        "表示の時間が過ぎたため、画面を閉じました。カードをお客様にお返しください。"
    ),
}
_STAFF_EN: dict[str, str] = {
    "idle.title": "Place the customer's card on the reader",
    "idle.hint": "My Number card, front side up",
    "no_reader.hint": "Check the reader's cable and power",
    "unavailable.hint": "The verification service is not answering. If this continues, contact "
    "your system administrator",
    "entry.hint.match_b": "The 14 digits from the card front: birth date, expiry year, security "
    "code",
    "entry.hint.input_helper_pin": "Ask the customer to enter their 4-digit PIN",
    "last_try.body": "One more wrong entry locks it, and the customer will have to go to their "
    "municipal office. Check the number with the customer before you continue.",
    "result.remove_hint": "When you are done, press Done and hand the card back",
    "badge.chain": "Certificate chain verified",
    "badge.revocation-checked": "Revocation checked",
    "badge.chain_no_revocation": "Revocation not checked",
    "badge.possession": "Card's private-key signature verified",
    "badge.record-signature": "Card face record signature verified",
    "badge.record-signature.number": "My Number record signature verified",
    "badge.not-verified": "Read only, signature not verified",
    "remove.title": "Hand the card back to the customer",
    "remove.hint": "The next customer can be served once the card is off the reader",
    "blocked.action.other": "Tell the customer it must be reset at their municipal office. "
    "Check their identity with another document.",
    "timed_out.entry": "The time to enter ran out, so we started over. Place the card on the "
    "reader again to retry.",
    "timed_out.result": "The result has been closed. Hand the card back to the customer.",
}

# What the clerk reads for each error code on the staff screen: (title, what to do).
_STAFF_ERRORS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "PIN_INVALID": (
        ("番号が違います", "お客様と確認して、もう一度入力してください。残り{n}回です。"),
        ("The number is wrong", "Check it with the customer and enter it again. {n} tries left."),
    ),
    "PIN_BLOCKED": (
        ("このカードはロックされています",
         ("お客様に、お住まいの市区町村の窓口で手続きが必要とお伝えください。"
          "本人確認はほかの本人確認書類で行ってください。")),
        ("This card is locked",
         ("Tell the customer to go to their municipal office. Check their identity with "
          "another document.")),
    ),
    "PIN_LAST_TRY_NEEDS_CONFIRMATION": (
        ("あと1回でロックされます", "番号をお客様と確認してから入力してください。"),
        ("One try left before the lock", "Check the number with the customer before entering it."),
    ),
    "CARD_REMOVED": (
        ("カードが途中で離れました",
         "カードを置き直し、読み取りが終わるまで動かさないでください。"),
        ("The card moved off the reader", "Place it again and keep it still until reading ends."),
    ),
    "NO_READER": (
        ("読み取り機が見つかりません", "読み取り機のケーブルと電源を確認してください。"),
        ("No card reader found", "Check the reader's cable and power."),
    ),
    "UNSUPPORTED_CARD": (
        ("マイナンバーカードではありません",
         "お客様にマイナンバーカードをお持ちか確認してください。"),
        ("This is not a My Number card", "Ask the customer for their My Number card."),
    ),
    "NO_SIGN_CERTIFICATE": (
        ("署名用電子証明書がありません",
         "このカードでは署名用の確認はできません。券面確認をお使いください。"),
        ("The card has no signature certificate",
         "This check cannot be done with this card. Use the card-face check."),
    ),
    "CERT_EXPIRED": (
        ("電子証明書の有効期限が切れています",
         "お客様に、市区町村の窓口で電子証明書の更新が必要とお伝えください。"),
        ("The certificate has expired",
         "Tell the customer to renew it at their municipal office."),
    ),
    "CERT_REVOKED": (
        ("電子証明書が失効しています",
         "このカードでの本人確認はできません。お客様に市区町村の窓口へのお問い合わせをご案内ください。"),
        ("The certificate has been revoked",
         "This card cannot be used. Refer the customer to their municipal office."),
    ),
    "CERT_UNTRUSTED": (
        ("電子証明書の発行元を確認できません",
         "偽造の可能性があります。このカードでの本人確認は行わず、責任者に報告してください。"),
        ("The certificate issuer could not be confirmed",
         "The card may be forged. Do not accept it; report it to your supervisor."),
    ),
    "POSSESSION_FAILED": (
        ("カードの真正性を確認できませんでした",
         "偽造の可能性があります。このカードでの本人確認は行わず、責任者に報告してください。"),
        ("The card failed the genuineness check",
         "The card may be forged. Do not accept it; report it to your supervisor."),
    ),
    "RECORD_SIGNATURE_INVALID": (
        ("券面情報の署名を検証できませんでした",
         "改ざんの可能性があります。このカードでの本人確認は行わず、責任者に報告してください。"),
        ("The card face record failed its signature check",
         "The card may have been altered. Do not accept it; report it to your supervisor."),
    ),
    "FLOW_DISABLED": (
        ("この確認方法は設定で無効になっています", "システム管理者に設定を確認してください。"),
        ("This check is turned off in the settings", "Ask your system administrator."),
    ),
    "REVOCATION_UNAVAILABLE": (
        ("失効情報を確認できません", "ネットワークの接続を確認して、もう一度お試しください。"),
        ("Revocation could not be checked", "Check the network connection and try again."),
    ),
    "CARD_ERROR": (
        ("カードを読み取れませんでした",
         "カードを置き直してください。続く場合は読み取り機の接続を確認してください。"),
        ("The card could not be read",
         "Place the card again. If this continues, check the reader's connection."),
    ),
    "TRANSPORT_ERROR": (
        ("読み取り機との通信に失敗しました",
         "カードを置き直してください。続く場合は読み取り機の接続を確認してください。"),
        ("Talking to the reader failed",
         "Place the card again. If this continues, check the reader's connection."),
    ),
    "INTERNAL": (
        ("エラーが発生しました",
         "もう一度お試しください。続く場合はシステム管理者に連絡してください。"),
        ("Something went wrong",
         "Try again. If it continues, contact your system administrator."),
    ),
    "RECORDS_BACKLOG": (
        ("確認記録を送れないため受付を止めています",
         ("確認記録の送り先（受信サーバー）との接続を確認し、システム管理者に連絡してください。"
          "お客様の本人確認はほかの方法で行ってください。")),
        ("Checks are paused: verification records cannot be delivered",
         ("Check the connection to the records receiver and contact your system administrator. "
          "Verify the customer's identity another way.")),
    ),
    "AUDIT_UNAVAILABLE": (
        ("監査ログを書き込めないため受付を止めています",
         ("システム管理者に連絡してください（ディスクの空きと監査ログの書き込み権限）。"
          "お客様の本人確認はほかの方法で行ってください。")),
        ("Checks are paused: the audit log cannot be written",
         ("Contact your system administrator (disk space and the audit log's permissions). "
          "Verify the customer's identity another way.")),
    ),
}
for _code in ("CERT_NOT_YET_VALID", "CERT_INVALID", "CERT_MALFORMED"):
    _STAFF_ERRORS[_code] = (
        (("電子証明書を確認できません",
          "このカードでの本人確認は行わず、責任者に報告してください。")),
        (("The certificate could not be checked",
          "Do not accept this card; report it to your supervisor.")),
    )

# ErrorCode -> (title, what to do), per language. Codes the catalog does not know fall back
# to "error.INTERNAL": the UI never invents text from the code itself.
_ERRORS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "PIN_INVALID": (
        ("パスワードが違います", "もう一度入力してください。残り{n}回です。"),
        ("Wrong password", "Please try again. {n} tries left."),
    ),
    "PIN_BLOCKED": (
        (
            "パスワードがロックされています",
            (
                "お住まいの市区町村の窓口で再設定してください。利用者証明用暗証番号（数字4桁）が"
                "分かる場合は、スマートフォンアプリを使ってコンビニのキオスク端末でも再設定できます。"
            ),
        ),
        (
            "The password is locked",
            (
                "Reset it at your municipal office. If you know your 4-digit user PIN you can "
                "also reset it at a convenience-store kiosk using the smartphone app."
            ),
        ),
    ),
    "PIN_LAST_TRY_NEEDS_CONFIRMATION": (
        ("あと1回でロックされます", "係員にご相談ください。"),
        ("One try left", "Please ask a member of staff."),
    ),
    "PIN_FORMAT": (
        ("入力の形式が違います", "もう一度入力してください。"),
        ("That is not in the right format", "Please enter it again."),
    ),
    "CARD_REMOVED": (
        (
            "カードが途中で離れました",
            "読み取りが終わるまでカードを動かさず、もう一度かざしてください。",
        ),
        (
            "The card was removed too early",
            "Tap it again and keep it still until reading is finished.",
        ),
    ),
    "NO_READER": (
        ("読み取り機が見つかりません", "係員をお呼びください。"),
        ("No card reader found", "Please call a member of staff."),
    ),
    "NO_CARD": (
        ("カードが見つかりません", "カードをかざしてください。"),
        ("No card found", "Please tap your card."),
    ),
    "UNSUPPORTED_CARD": (
        ("マイナンバーカードではありません", "マイナンバーカードをかざしてください。"),
        ("This is not a My Number card", "Please use your My Number card."),
    ),
    "NO_SIGN_CERTIFICATE": (
        (
            "署名用電子証明書がありません",
            "このカードでは利用できません（15歳未満の方など）。係員にご相談ください。",
        ),
        (
            "This card has no signature certificate",
            "It cannot be used here (e.g. under 15). Please ask a member of staff.",
        ),
    ),
    "CERT_EXPIRED": (
        ("電子証明書の有効期限が切れています", "市区町村の窓口で電子証明書を更新してください。"),
        ("The certificate has expired", "Renew it at your municipal office."),
    ),
    "CERT_NOT_YET_VALID": (
        ("電子証明書がまだ有効ではありません", "係員にご相談ください。"),
        ("The certificate is not valid yet", "Please ask a member of staff."),
    ),
    "CERT_REVOKED": (
        ("電子証明書が失効しています", "市区町村の窓口にお問い合わせください。"),
        ("The certificate has been revoked", "Please contact your municipal office."),
    ),
    "CERT_UNTRUSTED": (
        (
            "電子証明書を確認できません",
            "正規のカードではない可能性があります。係員にご相談ください。",
        ),
        (
            "The certificate could not be trusted",
            "This may not be a genuine card. Please ask a member of staff.",
        ),
    ),
    "CERT_INVALID": (
        ("電子証明書が正しくありません", "係員にご相談ください。"),
        ("The certificate is not valid", "Please ask a member of staff."),
    ),
    "CERT_MALFORMED": (
        ("電子証明書を読み取れません", "係員にご相談ください。"),
        ("The certificate could not be read", "Please ask a member of staff."),
    ),
    "REVOCATION_UNAVAILABLE": (
        ("失効情報を確認できません", "しばらくしてからもう一度お試しください。"),
        ("Revocation could not be checked", "Please try again later."),
    ),
    "POSSESSION_FAILED": (
        (
            "カードの確認に失敗しました",
            "このカードは正規のものと確認できません。係員にご相談ください。",
        ),
        (
            "The card failed the genuineness check",
            "This card could not be confirmed as genuine. Please ask a member of staff.",
        ),
    ),
    "RECORD_SIGNATURE_INVALID": (
        ("券面情報の完全性を確認できませんでした", "係員にご相談ください。"),
        ("The card data failed its integrity check", "Please ask a member of staff."),
    ),
    "FLOW_DISABLED": (
        ("この確認方法は使えません", "係員にご相談ください。"),
        ("This check is not available here", "Please ask a member of staff."),
    ),
    "CARD_ERROR": (
        ("カードを読み取れませんでした", "カードをかざし直してください。"),
        ("The card could not be read", "Please tap your card again."),
    ),
    "TRANSPORT_ERROR": (
        ("読み取りに失敗しました", "カードをかざし直してください。"),
        ("Reading failed", "Please tap your card again."),
    ),
    "TIMEOUT": (
        ("時間切れです", "もう一度カードをかざしてください。"),
        ("Time ran out", "Please tap your card again."),
    ),
    "BUSY": (
        ("処理中です", "しばらくお待ちください。"),
        ("Still working on the previous card", "Please wait a moment."),
    ),
    "RECORDS_BACKLOG": (
        ("ただいまご利用いただけません", "係員をお呼びください。"),
        ("This kiosk cannot check cards right now", "Please call a member of staff."),
    ),
    "INTERNAL": (
        ("エラーが発生しました", "もう一度お試しください。続く場合は係員をお呼びください。"),
        ("Something went wrong", "Please try again. If it continues, call a member of staff."),
    ),
    "AUDIT_UNAVAILABLE": (
        ("この端末は現在ご利用いただけません", "係員をお呼びください。"),
        ("This kiosk is out of service", "Please call a member of staff."),
    ),
    "STALE_SESSION": (
        ("画面の情報が古くなっています", "もう一度カードをかざしてください。"),
        ("This screen is out of date", "Please tap your card again."),
    ),
}


def catalog(lang: str) -> dict[str, str]:
    """The full flat catalog for one language (screen keys plus ``error.<CODE>.title/action``)."""
    base = dict(_JA if lang == "ja" else _EN)
    idx = 0 if lang == "ja" else 1
    for code, pair in _ERRORS.items():
        base[f"error.{code}.title"], base[f"error.{code}.action"] = pair[idx]
    for key, text in (_STAFF_JA if lang == "ja" else _STAFF_EN).items():
        base[STAFF_PREFIX + key] = text
    for code, pair in _STAFF_ERRORS.items():
        title, action = pair[idx]
        base[f"{STAFF_PREFIX}error.{code}.title"] = title
        base[f"{STAFF_PREFIX}error.{code}.action"] = action
    return base


def staff_text(cat: dict[str, str], key: str) -> str:
    """The staff screen's text for ``key``: its own wording where it has one."""
    return cat.get(STAFF_PREFIX + key, cat[key])


def all_catalogs() -> dict[str, dict[str, str]]:
    return {lang: catalog(lang) for lang in LANGS}


def known_error(code: str) -> str:
    """The code itself if the catalog has text for it, else ``INTERNAL``."""
    return code if code in _ERRORS else "INTERNAL"

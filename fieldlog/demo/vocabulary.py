"""The demo company's vocabulary: people, customer names with their readings, categories, notes.

Readings (フリガナ) leave the legal form out (株式会社, 有限会社…), as Japanese customer
ledgers usually do so that sorting by reading groups a company under its own name.
"""

from __future__ import annotations

COMPANY_NAME = "株式会社ミナト産業"
EMAIL_DOMAIN = "minato.example"
DEMO_PASSWORD = "fieldlog-demo"  # noqa: S105 (the published demo password)

# code, name, customer-code prefix, regional name stems (kanji, reading)
BRANCHES: tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "TKY",
        "東京支店",
        "1",
        (
            ("京浜", "ケイヒン"),
            ("武蔵", "ムサシ"),
            ("城南", "ジョウナン"),
            ("江東", "コウトウ"),
            ("品川", "シナガワ"),
            ("多摩", "タマ"),
            ("板橋", "イタバシ"),
            ("大田", "オオタ"),
        ),
    ),
    (
        "OSK",
        "大阪支店",
        "2",
        (
            ("浪速", "ナニワ"),
            ("堺", "サカイ"),
            ("関西", "カンサイ"),
            ("難波", "ナンバ"),
            ("淀川", "ヨドガワ"),
            ("河内", "カワチ"),
            ("泉州", "センシュウ"),
            ("東大阪", "ヒガシオオサカ"),
        ),
    ),
    (
        "NGY",
        "名古屋支店",
        "3",
        (
            ("尾張", "オワリ"),
            ("中部", "チュウブ"),
            ("熱田", "アツタ"),
            ("瀬戸", "セト"),
            ("三河", "ミカワ"),
            ("知多", "チタ"),
            ("一宮", "イチノミヤ"),
            ("春日井", "カスガイ"),
        ),
    ),
)

# The branch whose proposals rise over the demo window, with sales following a few weeks later.
RISING_BRANCH = "NGY"

# (email local part, name, role, branch code or None, profile)
PEOPLE: tuple[tuple[str, str, str, str | None, str], ...] = (
    ("owner", "港 正人", "owner", None, ""),
    ("takahashi.makoto", "高橋 誠", "manager", "TKY", "steady"),
    ("saito.yumi", "斎藤 由美", "manager", "TKY", "steady"),
    ("nakamura.koji", "中村 浩二", "manager", "OSK", "steady"),
    ("ito.masayuki", "伊藤 雅之", "manager", "NGY", "steady"),
    ("sato.kenta", "佐藤 健太", "rep", "TKY", "order_taker"),
    ("suzuki.daisuke", "鈴木 大輔", "rep", "TKY", "steady"),
    ("tanaka.miho", "田中 美穂", "rep", "TKY", "strong"),
    ("watanabe.shota", "渡辺 翔太", "rep", "TKY", "steady"),
    ("yamamoto.aya", "山本 彩", "rep", "TKY", "steady"),
    ("ogawa.naoki", "小川 直樹", "rep", "TKY", "weak"),
    ("matsuda.misaki", "松田 美咲", "rep", "OSK", "star"),
    ("yamaguchi.takuya", "山口 拓也", "rep", "OSK", "steady"),
    ("inoue.mariko", "井上 真理子", "rep", "OSK", "strong"),
    ("kinoshita.ryo", "木下 亮", "rep", "OSK", "weak"),
    ("fujiwara.nana", "藤原 奈々", "rep", "OSK", "steady"),
    ("kato.shunsuke", "加藤 俊介", "rep", "NGY", "steady"),
    ("hayashi.saori", "林 沙織", "rep", "NGY", "strong"),
    ("mori.kenji", "森 健二", "rep", "NGY", "steady"),
    ("mizuno.yuto", "水野 悠斗", "rep", "NGY", "weak"),
)

# code, name, sort, typical gross margin
CATEGORIES: tuple[tuple[str, str, int, float], ...] = (
    ("CUT", "切削工具", 10, 0.24),
    ("ABR", "研磨材", 20, 0.27),
    ("OIL", "潤滑油・切削油", 30, 0.19),
    ("PPE", "保護具・作業手袋", 40, 0.31),
    ("PKG", "梱包資材", 50, 0.16),
    ("CLN", "清掃・衛生用品", 60, 0.29),
    ("ADH", "接着剤・テープ", 70, 0.26),
    ("ELC", "電設・照明資材", 80, 0.21),
)

# Family names: for companies and for shops and clinics alike.
FAMILY_STEMS: tuple[tuple[str, str], ...] = (
    ("山田", "ヤマダ"),
    ("松本", "マツモト"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("佐々木", "ササキ"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
    ("林", "ハヤシ"),
    ("清水", "シミズ"),
    ("森田", "モリタ"),
    ("池田", "イケダ"),
    ("橋本", "ハシモト"),
    ("石川", "イシカワ"),
    ("前田", "マエダ"),
    ("藤井", "フジイ"),
    ("岡田", "オカダ"),
    ("長谷川", "ハセガワ"),
    ("村上", "ムラカミ"),
    ("近藤", "コンドウ"),
    ("坂本", "サカモト"),
    ("青木", "アオキ"),
    ("西村", "ニシムラ"),
    ("福田", "フクダ"),
    ("三浦", "ミウラ"),
    ("竹内", "タケウチ"),
    ("金子", "カネコ"),
    ("野村", "ノムラ"),
    ("原田", "ハラダ"),
    ("小野", "オノ"),
    ("杉山", "スギヤマ"),
    ("内田", "ウチダ"),
)

# Words companies are named after.
CORPORATE_STEMS: tuple[tuple[str, str], ...] = (
    ("大和", "ヤマト"),
    ("東洋", "トウヨウ"),
    ("三栄", "サンエイ"),
    ("丸山", "マルヤマ"),
    ("日進", "ニッシン"),
    ("協和", "キョウワ"),
    ("中央", "チュウオウ"),
    ("富士", "フジ"),
    ("旭", "アサヒ"),
    ("北斗", "ホクト"),
    ("昭和", "ショウワ"),
    ("平和", "ヘイワ"),
    ("大成", "タイセイ"),
    ("共栄", "キョウエイ"),
    ("明和", "メイワ"),
    ("新栄", "シンエイ"),
    ("三和", "サンワ"),
    ("大同", "ダイドウ"),
    ("東邦", "トウホウ"),
    ("太陽", "タイヨウ"),
    ("菊水", "キクスイ"),
    ("丸和", "マルワ"),
    ("日東", "ニットウ"),
    ("光洋", "コウヨウ"),
)

# Kinds of company, with their readings.
COMPANY_TYPES: tuple[tuple[str, str], ...] = (
    ("製作所", "セイサクショ"),
    ("工業", "コウギョウ"),
    ("精機", "セイキ"),
    ("金属", "キンゾク"),
    ("化成", "カセイ"),
    ("運輸", "ウンユ"),
    ("建設", "ケンセツ"),
    ("食品", "ショクヒン"),
    ("印刷", "インサツ"),
    ("電機", "デンキ"),
    ("商事", "ショウジ"),
    ("設備", "セツビ"),
    ("鉄工所", "テッコウショ"),
    ("機械", "キカイ"),
    ("技研", "ギケン"),
    ("産業", "サンギョウ"),
    ("樹脂", "ジュシ"),
    ("塗装", "トソウ"),
    ("物流", "ブツリュウ"),
    ("紙器", "シキ"),
    ("製菓", "セイカ"),
    ("電設", "デンセツ"),
    ("自動車", "ジドウシャ"),
    ("工務店", "コウムテン"),
)

# Shops, workshops and clinics: named after a family, usually without a legal form.
SHOP_TYPES: tuple[tuple[str, str], ...] = (
    ("歯科医院", "シカイイン"),
    ("内科クリニック", "ナイカクリニック"),
    ("整骨院", "セイコツイン"),
    ("動物病院", "ドウブツビョウイン"),
    ("クリーニング店", "クリーニングテン"),
    ("自動車整備工場", "ジドウシャセイビコウジョウ"),
    ("製麺所", "セイメンジョ"),
    ("薬局", "ヤッキョク"),
    ("理容室", "リヨウシツ"),
    ("板金工場", "バンキンコウジョウ"),
)

# Each branch's customers lie in these towns; the demo's addresses (住所) put the customer page's
# map link in view. Numbers come from the customer's position, so no random draw moves.
TOWNS: dict[str, tuple[str, ...]] = {
    "TKY": ("東京都大田区蒲田", "東京都品川区大井", "東京都板橋区舟渡", "東京都江東区新木場"),
    "OSK": ("大阪府東大阪市高井田", "大阪府堺市堺区", "大阪府大阪市西淀川区", "大阪府吹田市江坂町"),
    "NGY": ("愛知県名古屋市港区", "愛知県春日井市", "愛知県小牧市", "愛知県名古屋市熱田区"),
}


def address(branch: str, index: int) -> str:
    """A plausible street address (丁目-番-号) in one of the branch's towns."""
    towns = TOWNS.get(branch) or ("東京都港区",)
    town = towns[index % len(towns)]
    return f"{town}{index % 5 + 1}-{index * 7 % 19 + 1}-{index * 3 % 11 + 1}"


# (prefix, suffix, weight): the legal forms of Japanese companies as customer ledgers spell them.
LEGAL_FORMS: tuple[tuple[str, str, int], ...] = (
    ("株式会社", "", 34),
    ("", "株式会社", 24),
    ("㈱", "", 10),
    ("", "㈱", 6),
    ("有限会社", "", 12),
    ("", "有限会社", 6),
    ("㈲", "", 4),
    ("合同会社", "", 4),
)

PURPOSE_NOTES: dict[str, tuple[str, ...]] = {
    "hearing": (
        "現場の困りごとを聞く",
        "消耗品の使用量の変化を確認",
        "新ラインの立ち上げ状況を伺う",
        "購買担当の交代後の方針を確認",
    ),
    "proposal": (
        "前回ヒアリングへの提案",
        "切替による単価低減の提案",
        "まとめ発注のご提案",
        "新商品サンプルの紹介",
    ),
    "follow_up": ("見積の回答を伺う", "サンプルの評価を確認", "納期の確認", "導入後の使用感を確認"),
    "relationship": ("工場長との面談", "新任の購買課長へ挨拶", "社長へ年末のご挨拶"),
    "routine": ("定期巡回", "在庫補充の確認", "注文伺い"),
    "called": ("急ぎの注文で呼ばれた", "不良品の交換対応", "請求書の件で呼ばれた"),
}

HEARING_NOTES: tuple[str, ...] = (
    "刃物の寿命が短く交換頻度が高いとのこと",
    "梱包資材の置き場が足りず困っている",
    "夏場の熱中症対策を検討中",
    "作業手袋の破れが多く、現場から不満が出ている",
    "切削油の臭いについて苦情がある",
    "照明が暗く検品ミスが増えている",
    "発注が電話とFAXで手間がかかっている",
    "研磨工程の仕上がりにばらつきがある",
    "清掃用品の購入先がばらばらで管理しきれていない",
    "来期から原価低減の目標が厳しくなる",
    "新規取引先の監査で保護具の見直しを求められた",
    "テープの粘着不良で再梱包が発生している",
)

NEXT_ACTIONS: tuple[str, ...] = (
    "見積書を送付する",
    "サンプルを持参する",
    "発注状況を電話で確認",
    "工場長との打ち合わせ日程を調整",
    "新製品カタログを届ける",
    "価格改定の説明に再訪問",
    "試用結果のヒアリング",
    "在庫量の見直し案を作成",
    "メーカー担当者と同行訪問",
)

PROPOSAL_NOTES: tuple[str, ...] = (
    "現行品からの切替提案",
    "年間契約による単価見直し",
    "新商品のテスト導入",
    "まとめ発注による物流費削減",
    "在庫管理を含めた定期納品",
)

REVIEWS: dict[str, tuple[str, str, str, str]] = {
    # branch code → (kpi, why, cause, next change)
    "TKY": (
        "purposeful_visit_rate",
        "定期巡回と呼ばれて対応の訪問が多く、目的あり訪問率が目標に届かなかった。"
        "特に佐藤さんは訪問件数は多いが、目的を決めずに回っている。",
        "quality",
        "訪問前日に各顧客の目的を一行で書く。佐藤さんは来週から同行して目的設定を練習する。",
    ),
    "OSK": (
        "follow_up_rate",
        "期日を過ぎたフォローが数件残った。見積回答の確認が後回しになっている。",
        "quantity",
        "毎朝、今日期日のフォローを確認してから出発する。",
    ),
    "NGY": (
        "additional_proposal_rate",
        "カテゴリ別の購買履歴を見てから訪問するようにしたところ、追加提案が増えた。",
        "design",
        "追加提案の件数に加えて、受注につながったかも見る。仮説検証を継続。",
    ),
}

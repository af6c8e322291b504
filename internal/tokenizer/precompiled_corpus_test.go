package tokenizer

import "unicode/utf8"

// precompiledSentences are multilingual lines with what charsmaps rewrite:
// compatibility forms, odd spaces, controls, combining marks, emoji.
var precompiledSentences = []string{
	"The quick brown fox jumps over the lazy dog.",
	"ﬁnancial ﬂows, ﬀ ﬃ ﬄ ﬅ ﬆ — œuvre, Æsir",
	"Circled ①②③④⑤⑥⑦⑧⑨⑩ ⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳ ㉑ ㊿ ⓐⓑⓒ Ⓐ Ⓩ ❶ ➀",
	"Roman Ⅰ Ⅱ Ⅲ Ⅳ Ⅴ Ⅵ Ⅶ Ⅷ Ⅸ Ⅹ Ⅺ Ⅻ Ⅼ Ⅽ Ⅾ Ⅿ ⅰ ⅻ ↀ ↂ",
	"Ｆｕｌｌ－ｗｉｄｔｈ　ＡＢＣ！？（１２３）",
	"ﾊﾝｶｸ ｶﾀｶﾅ ｶﾞｷﾞｸﾞ ﾊﾟﾋﾟﾌﾟ ｰ ｡｢｣､･",
	"spaces:\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000|",
	"zero width:\u200b\u200c\u200d\u2060\ufeff|",
	"controls:\x01\x02\x07\x08\x0b\x0c\x0e\x1b\x1f\x7f\u0080\u0085\u008f\u009f|",
	"tabs\tand\nnewlines\r\nand\rreturns",
	"Café naïve résumé (precomposed) — Cafe\u0301 nai\u0308ve re\u0301sume\u0301 (combining)",
	"Ångström A\u030angstro\u0308m Å Å Ω Ω K",
	"z\u0336\u0335\u0334a\u0337\u0338l\u0321\u0322g\u0327o\u0328 zalgo text",
	"Tiếng Việt có dấu: Hà Nội, Thành phố Hồ Chí Minh",
	"Русский текст: съешь же ещё этих мягких французских булок",
	"Ελληνικά: Τάχιστη αλώπηξ βαφής ψημένη γη, δρασκελίζει υπέρ νωθρού κυνός",
	"العربية: ﻻ ﻷ ﷲ ﷺ ﷽ ﺍﻟﻌﺮﺑﻴﺔ ﭐ ﮰ",
	"עברית: שָׁלוֹם עֲלֵיכֶם ﬠ ﬡ ﬢ ﬣ ﬤ ﬥ ﬦ ﬧ ﬨ ﬩",
	"हिन्दी: क्षत्रिय नमस्ते ज़ फ़ क़ ड़ ढ़",
	"ภาษาไทย: สวัสดีครับ ำ ํา",
	"日本語: 東京都 ㍻ ㍼ ㍽ ㍾ ㌀ ㌔ ㎏ ㎞ ㏄ ㈱ ㊤ ㋿",
	"中文：简体字与繁體字，全角标点。「引号」",
	"한국어: 안녕하세요 \u1112\u1161\u11ab\u1100\u1173\u11af ㄱ ㅏ ㉠ ㈀ ﾡ",
	"emoji: 😀 👍🏽 👩‍👩‍👧‍👦 🏳️‍🌈 🇫🇷🇩🇪 ❤️ ☺︎ 1️⃣ #️⃣ 🧑🏿‍💻",
	"math: ℝ ℕ ℤ ℂ ℍ 𝐀𝐁𝐂 𝔸𝔹 𝕒𝕓 𝟎𝟏𝟐 ½ ¼ ¾ ⅓ ⅞ x² y³ H₂O ⁿ",
	"letterlike: ℃ ℉ ℡ ™ ℠ № ℅ ℓ ℮ ⅍ ㏇",
	"quotes: “double” ‘single’ «guillemets» ‹single› „low“ ′ ″ ‴",
	"dashes: ‐ ‑ ‒ – — ― − ﹣ － ⁃",
	"dots: … ‥ ․ ︙ ﹒ ．",
	"superscript ⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ subscript ₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎",
	"parenthesized ⑴ ⒜ ⒈ ㈠ ㈪",
	"CJK compatibility 豈 更 車 賈 﨎 﨏 兀 嗀 and radicals ⺀ ⼀ ⿕",
	"variation selectors: 葛\U000e0100 ☃\ufe0f ☃\ufe0e",
	"tags: 🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
	"private use: \ue000\uf8ff\U000f0000",
	"replacement: \ufffd\ufffc",
	"line sep\u2028para sep\u2029next line\u0085end",
	"soft\u00adhyphen and\u034fcgj",
	"bidi: \u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
	"halfwidth hangul ﾡﾢﾣ ￂￃ ￚￛￜ",
	"long word " + "ﬁ\u0301ﬁ\u0301ﬁ\u0301ﬁ\u0301ﬁ\u0301ﬁ\u0301ﬁ\u0301ﬁ\u0301",
	"short graphemes: ²\u0301 ①\u0308 Ａ\u0301 \u00a0\u0301 ｶ\u0301 ﬁ\u0301",
	"",
	" ",
	"\r\n",
	"\r\n\r\n",
}

// corpusRanges are blocks where charsmaps have rules, walked code point by
// code point.
var corpusRanges = [][2]rune{
	{0x00, 0x24f}, {0x2b0, 0x36f}, {0x370, 0x52f}, {0x590, 0x6ff},
	{0x900, 0x97f}, {0xe00, 0xe7f}, {0xf00, 0xfff}, {0x1100, 0x11ff},
	{0x1d00, 0x1dbf}, {0x1e00, 0x1fff}, {0x2000, 0x2bff}, {0x2e80, 0x2fdf},
	{0x3000, 0x33ff}, {0xa490, 0xa4cf}, {0xa700, 0xa7ff}, {0xac00, 0xac40},
	{0xd7b0, 0xd7ff}, {0xf900, 0xfaff}, {0xfb00, 0xfdff}, {0xfe00, 0xfeff},
	{0xff00, 0xffff}, {0x1d400, 0x1d7ff}, {0x1ee00, 0x1eeff},
	{0x1f100, 0x1f2ff}, {0x1f300, 0x1f3ff}, {0x1fbf0, 0x1fbff},
	{0x2f800, 0x2fa1f}, {0xe0000, 0xe01ef},
}

// precompiledCorpus is the sentences and, for each code point of the
// ranges (or all of them), the code point alone, followed by a combining
// acute (a short grapheme), and between letters.
func precompiledCorpus(all bool) []string {
	out := append([]string(nil), precompiledSentences...)
	ranges := corpusRanges
	if all {
		ranges = [][2]rune{{0, utf8.MaxRune}}
	}
	for _, r := range ranges {
		for c := r[0]; c <= r[1]; c++ {
			if !utf8.ValidRune(c) {
				continue
			}
			s := string(c)
			out = append(out, s, s+"\u0301", "a"+s+"b")
		}
	}
	return out
}

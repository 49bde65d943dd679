"""Sign language translation: from glosses (or the recognition network's features) to spoken-language text.

Gloss-to-text follows the published transformer systems for PHOENIX-2014-T (Yin & Read 2020; Camgöz et al. 2020,
signjoey): a word-level encoder-decoder with label smoothing, a warm-up schedule and beam search with a length
penalty; scores are sacreBLEU's (docs/METHOD.md, "Translation").
"""

"""Where passages are stored: the Chroma vector collection (the only code that talks to Chroma), one
embedded Chroma directory shared by several processes, the BM25 index kept in step beside it, and
Chroma-style ``where`` filters evaluated on metadata."""

"""Committee papers: page templates (:mod:`.templates`), print styles
(:mod:`.print_styles`) and the export of the pages (:mod:`.export`)."""

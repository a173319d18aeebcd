"""The tally service: meeting boards, results, 双评 grades and district summaries."""

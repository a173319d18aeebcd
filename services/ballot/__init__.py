"""The ballot service: campaigns, meetings, rosters, tokens, ballots, superior assessments."""

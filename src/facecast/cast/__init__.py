"""Stage cast: synthetic identities under demographic quotas, and the casting plan."""

"""imagine-bot: the Discord-free core (budgets, jobs, the Pixazo client) and the composition root."""

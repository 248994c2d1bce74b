"""Documents' rules: form templates, their versions, answers and the e-signature disclosure (pure Python)."""

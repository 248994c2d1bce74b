"""The sandbox card processor (development and tests only; refuses to start when PORTAL_ENV=production)."""

"""The simulated product: its games, shop, platforms, markets and acquisition channels."""

from __future__ import annotations

import numpy as np

PLATFORMS = ["web", "ios", "android"]
PLATFORM_WEIGHTS = [0.45, 0.30, 0.25]
WEB, IOS, ANDROID = 0, 1, 2

COUNTRIES = ["US", "GB", "DE", "FR", "BR", "IN", "JP", "ES", "CA", "NL"]
COUNTRY_WEIGHTS = [0.30, 0.10, 0.10, 0.08, 0.10, 0.12, 0.06, 0.05, 0.05, 0.04]
LOCALES = ["en-US", "en-GB", "de-DE", "fr-FR", "pt-BR", "en-IN", "ja-JP", "es-ES", "en-CA", "nl-NL"]

GAMES = [
    "word_duel",
    "block_drop",
    "trivia_rush",
    "snake_sprint",
    "card_clash",
    "maze_run",
    "color_match",
    "tower_stack",
]
GAME_WEIGHTS = [0.22, 0.18, 0.14, 0.12, 0.10, 0.10, 0.08, 0.06]
GAME_MODES = ["solo", "duel", "daily"]
GAME_MODE_WEIGHTS = [0.55, 0.30, 0.15]

PRODUCTS = [f"sku_{i:03d}" for i in range(40)]
PRODUCT_PRICES = np.round(1.99 + (np.arange(40) * 37 % 23) * 1.5, 2)

PLANS = ["free", "pro"]
SHARE_DESTINATIONS = ["feed", "direct"]

# First-touch acquisition channels: (utm_source, utm_medium, utm_campaign, web referrer).
CHANNELS = [
    ("direct", None, None, None, None),
    ("paid_search", "google", "cpc", "autumn_games", "https://www.google.com/"),
    ("paid_social", "facebook", "paid_social", "play_together", "https://www.facebook.com/"),
    ("email", "newsletter", "email", "weekly_digest", None),
    ("organic", None, None, None, "https://www.google.com/"),
    ("referral", None, None, None, None),
]
CHANNEL_WEIGHTS = [0.33, 0.17, 0.14, 0.08, 0.16, 0.12]
REFERRAL = 5
RETARGETING = ("google", "cpc", "win_back")

APP_VERSIONS = ["3.4.0", "3.5.0", "3.5.1", "3.6.0", "3.7.0", "3.8.0"]

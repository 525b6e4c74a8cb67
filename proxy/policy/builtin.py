"""Built-in consent categories and banner texts, in English, Dutch, German, French, Spanish and Italian.

Every site starts from these: a site's own ``categories`` and ``banner.texts``
tables are merged over them key by key, so a site changes one label without
repeating the rest. The four categories are the contract in DESIGN.md
(``necessary`` is always granted and cannot be refused). Plain data only: must
not import pydantic, aiohttp, mitmproxy, jwt or ``proxy.html``.
"""

from __future__ import annotations

__all__ = [
    "BUILTIN_CATEGORIES",
    "BUILTIN_LANGUAGES",
    "BANNER_TEXTS",
    "NECESSARY",
]

NECESSARY = "necessary"

BUILTIN_LANGUAGES: tuple[str, ...] = ("en", "nl", "de", "fr", "es", "it")

# name -> {"label": {lang: text}, "description": {lang: text}}
BUILTIN_CATEGORIES: dict[str, dict[str, dict[str, str]]] = {
    "necessary": {
        "label": {
            "en": "Strictly necessary",
            "nl": "Strikt noodzakelijk",
            "de": "Unbedingt erforderlich",
            "fr": "Strictement nécessaires",
            "es": "Estrictamente necesarias",
            "it": "Strettamente necessari",
        },
        "description": {
            "en": "Needed for the site to work, such as security, your consent choice and payments. Always on.",
            "nl": "Nodig om de site te laten werken, zoals beveiliging, uw toestemmingskeuze en betalingen. Altijd aan.",
            "de": "Für den Betrieb der Website nötig, etwa Sicherheit, Ihre Einwilligungsauswahl und Zahlungen. Immer aktiv.",
            "fr": "Indispensables au fonctionnement du site : sécurité, mémorisation de votre choix, paiements. Toujours actifs.",
            "es": "Imprescindibles para que el sitio funcione, como la seguridad, su elección de consentimiento y los pagos. Siempre activas.",
            "it": "Indispensabili al funzionamento del sito, come sicurezza, la tua scelta sul consenso e i pagamenti. Sempre attivi.",
        },
    },
    "preferences": {
        "label": {
            "en": "Preferences",
            "nl": "Voorkeuren",
            "de": "Präferenzen",
            "fr": "Préférences",
            "es": "Preferencias",
            "it": "Preferenze",
        },
        "description": {
            "en": "Remember choices such as language and enable extras such as live chat and translation.",
            "nl": "Onthouden keuzes zoals taal en maken extra's mogelijk zoals livechat en vertaling.",
            "de": "Speichern Einstellungen wie die Sprache und ermöglichen Extras wie Live-Chat und Übersetzung.",
            "fr": "Mémorisent vos choix, comme la langue, et activent des services comme le chat en direct et la traduction.",
            "es": "Recuerdan opciones como el idioma y activan extras como el chat en directo y la traducción.",
            "it": "Ricordano scelte come la lingua e abilitano servizi come la chat dal vivo e la traduzione.",
        },
    },
    "analytics": {
        "label": {
            "en": "Analytics",
            "nl": "Statistieken",
            "de": "Statistik",
            "fr": "Mesure d'audience",
            "es": "Analítica",
            "it": "Statistiche",
        },
        "description": {
            "en": "Help us understand how visitors use the site so we can improve it.",
            "nl": "Helpen ons begrijpen hoe bezoekers de site gebruiken, zodat we hem kunnen verbeteren.",
            "de": "Helfen uns zu verstehen, wie Besucher die Website nutzen, damit wir sie verbessern können.",
            "fr": "Nous aident à comprendre comment les visiteurs utilisent le site afin de l'améliorer.",
            "es": "Nos ayudan a entender cómo se usa el sitio para poder mejorarlo.",
            "it": "Ci aiutano a capire come i visitatori usano il sito per migliorarlo.",
        },
    },
    "marketing": {
        "label": {
            "en": "Marketing",
            "nl": "Marketing",
            "de": "Marketing",
            "fr": "Marketing",
            "es": "Marketing",
            "it": "Marketing",
        },
        "description": {
            "en": "Used by advertisers and embedded content (videos, maps, social media) to follow you across sites.",
            "nl": "Gebruikt door adverteerders en ingesloten inhoud (video's, kaarten, sociale media) om u over sites heen te volgen.",
            "de": "Werden von Werbepartnern und eingebetteten Inhalten (Videos, Karten, soziale Medien) genutzt, um Sie websiteübergreifend zu verfolgen.",
            "fr": "Utilisés par les annonceurs et les contenus intégrés (vidéos, cartes, réseaux sociaux) pour vous suivre d'un site à l'autre.",
            "es": "Los usan anunciantes y contenidos incrustados (vídeos, mapas, redes sociales) para seguirle entre sitios.",
            "it": "Usati da inserzionisti e contenuti incorporati (video, mappe, social network) per seguirti tra i siti.",
        },
    },
}

# lang -> text key -> text. The keys are the contract with the banner (proxy/web):
# a site's banner.texts may override any of them, and only them.
BANNER_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your privacy",
        "message": "We use cookies and similar technologies only with your consent. Choose what you allow; you can change your mind at any time.",
        "accept_all": "Accept all",
        "reject_all": "Reject all",
        "customize": "Choose",
        "save": "Save choices",
        "privacy_policy": "Privacy policy",
        "always_on": "Always on",
    },
    "nl": {
        "title": "Uw privacy",
        "message": "We gebruiken cookies en vergelijkbare technieken alleen met uw toestemming. Kies wat u toestaat; u kunt uw keuze altijd wijzigen.",
        "accept_all": "Alles accepteren",
        "reject_all": "Alles weigeren",
        "customize": "Zelf kiezen",
        "save": "Keuze opslaan",
        "privacy_policy": "Privacyverklaring",
        "always_on": "Altijd aan",
    },
    "de": {
        "title": "Ihre Privatsphäre",
        "message": "Wir verwenden Cookies und ähnliche Technologien nur mit Ihrer Einwilligung. Wählen Sie, was Sie erlauben; Sie können Ihre Wahl jederzeit ändern.",
        "accept_all": "Alle akzeptieren",
        "reject_all": "Alle ablehnen",
        "customize": "Auswählen",
        "save": "Auswahl speichern",
        "privacy_policy": "Datenschutzerklärung",
        "always_on": "Immer aktiv",
    },
    "fr": {
        "title": "Votre vie privée",
        "message": "Nous n'utilisons des cookies et technologies similaires qu'avec votre consentement. Choisissez ce que vous autorisez ; vous pouvez changer d'avis à tout moment.",
        "accept_all": "Tout accepter",
        "reject_all": "Tout refuser",
        "customize": "Personnaliser",
        "save": "Enregistrer mes choix",
        "privacy_policy": "Politique de confidentialité",
        "always_on": "Toujours actifs",
    },
    "es": {
        "title": "Su privacidad",
        "message": "Solo usamos cookies y tecnologías similares con su consentimiento. Elija qué permite; puede cambiar de opinión en cualquier momento.",
        "accept_all": "Aceptar todo",
        "reject_all": "Rechazar todo",
        "customize": "Elegir",
        "save": "Guardar selección",
        "privacy_policy": "Política de privacidad",
        "always_on": "Siempre activas",
    },
    "it": {
        "title": "La tua privacy",
        "message": "Usiamo cookie e tecnologie simili solo con il tuo consenso. Scegli cosa consentire; puoi cambiare idea in qualsiasi momento.",
        "accept_all": "Accetta tutto",
        "reject_all": "Rifiuta tutto",
        "customize": "Scegli",
        "save": "Salva le scelte",
        "privacy_policy": "Informativa sulla privacy",
        "always_on": "Sempre attivi",
    },
}

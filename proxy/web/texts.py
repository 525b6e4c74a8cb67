"""Built-in banner texts in six languages, per-site overrides, and language choice.

Every visible string of the banner, the runtime and the no-JS preferences page comes
from here, merged with the site's ``banner.texts`` overrides, so that a site can
re-word anything per language without touching JavaScript. Standard library only:
this module must not import aiohttp, mitmproxy, jwt or pydantic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

LANGUAGES: tuple[str, ...] = ("en", "nl", "de", "fr", "es", "it")
DEFAULT_LANGUAGE = "en"

# Keys are shared with consent.js (it reads them from the state JSON). "{vendor}" is
# replaced by the runtime with a vendor's display name.
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "We value your privacy",
        "intro": "We use cookies and similar technologies for statistics and marketing only if you agree. "
                 "Refusing is as easy as accepting, and you can change your choice at any time under \u201cPrivacy settings\u201d.",
        "accept_all": "Accept all",
        "reject_all": "Reject all",
        "choose": "Choose",
        "save": "Save choices",
        "settings": "Privacy settings",
        "close": "Close",
        "prefs_title": "Privacy settings",
        "prefs_intro": "Choose which kinds of cookies and services this site may use. Necessary ones keep the site working and cannot be switched off.",
        "always_active": "Always active",
        "services": "Services",
        "no_services": "No services of this kind are known on this site.",
        "privacy_policy": "Privacy policy",
        "vendor_privacy": "privacy policy",
        "cookies": "Cookies",
        "session": "session",
        "embed_text": "This content is hosted by {vendor}, which may set cookies and track you.",
        "load_once": "Load once",
        "always_allow": "Always allow {vendor}",
        "gpc_note": "Your browser sends a Global Privacy Control signal, so marketing stays off.",
        "gpc_honoured": "We honour Global Privacy Control signals from your browser.",
        "saved": "Your choice has been saved.",
        "back": "Back to the site",
        "error": "Your choice could not be saved. Please try again.",
    },
    "nl": {
        "title": "Wij respecteren uw privacy",
        "intro": "Wij gebruiken cookies en vergelijkbare technieken voor statistiek en marketing alleen als u daarmee instemt. "
                 "Weigeren is even makkelijk als accepteren, en u kunt uw keuze altijd wijzigen via \u201cPrivacy-instellingen\u201d.",
        "accept_all": "Alles accepteren",
        "reject_all": "Alles weigeren",
        "choose": "Kiezen",
        "save": "Keuze opslaan",
        "settings": "Privacy-instellingen",
        "close": "Sluiten",
        "prefs_title": "Privacy-instellingen",
        "prefs_intro": "Kies welke soorten cookies en diensten deze site mag gebruiken. Noodzakelijke houden de site werkend en kunnen niet uit.",
        "always_active": "Altijd actief",
        "services": "Diensten",
        "no_services": "Er zijn op deze site geen diensten van deze soort bekend.",
        "privacy_policy": "Privacybeleid",
        "vendor_privacy": "privacybeleid",
        "cookies": "Cookies",
        "session": "sessie",
        "embed_text": "Deze inhoud wordt aangeboden door {vendor}, dat cookies kan plaatsen en u kan volgen.",
        "load_once": "Eenmalig laden",
        "always_allow": "{vendor} altijd toestaan",
        "gpc_note": "Uw browser stuurt een Global Privacy Control-signaal, dus marketing blijft uit.",
        "gpc_honoured": "Wij respecteren Global Privacy Control-signalen van uw browser.",
        "saved": "Uw keuze is opgeslagen.",
        "back": "Terug naar de site",
        "error": "Uw keuze kon niet worden opgeslagen. Probeer het opnieuw.",
    },
    "de": {
        "title": "Ihre Privatsph\u00e4re ist uns wichtig",
        "intro": "Wir verwenden Cookies und \u00e4hnliche Technologien f\u00fcr Statistik und Marketing nur mit Ihrer Zustimmung. "
                 "Ablehnen ist so einfach wie Zustimmen, und Sie k\u00f6nnen Ihre Wahl jederzeit unter \u201eDatenschutz-Einstellungen\u201c \u00e4ndern.",
        "accept_all": "Alle akzeptieren",
        "reject_all": "Alle ablehnen",
        "choose": "Ausw\u00e4hlen",
        "save": "Auswahl speichern",
        "settings": "Datenschutz-Einstellungen",
        "close": "Schlie\u00dfen",
        "prefs_title": "Datenschutz-Einstellungen",
        "prefs_intro": "W\u00e4hlen Sie, welche Arten von Cookies und Diensten diese Website nutzen darf. Notwendige halten die Website funktionsf\u00e4hig und lassen sich nicht abschalten.",
        "always_active": "Immer aktiv",
        "services": "Dienste",
        "no_services": "Auf dieser Website sind keine Dienste dieser Art bekannt.",
        "privacy_policy": "Datenschutzerkl\u00e4rung",
        "vendor_privacy": "Datenschutzerkl\u00e4rung",
        "cookies": "Cookies",
        "session": "Sitzung",
        "embed_text": "Dieser Inhalt wird von {vendor} bereitgestellt, das Cookies setzen und Sie verfolgen kann.",
        "load_once": "Einmal laden",
        "always_allow": "{vendor} immer erlauben",
        "gpc_note": "Ihr Browser sendet ein Global-Privacy-Control-Signal, daher bleibt Marketing aus.",
        "gpc_honoured": "Wir beachten Global-Privacy-Control-Signale Ihres Browsers.",
        "saved": "Ihre Auswahl wurde gespeichert.",
        "back": "Zur\u00fcck zur Website",
        "error": "Ihre Auswahl konnte nicht gespeichert werden. Bitte versuchen Sie es erneut.",
    },
    "fr": {
        "title": "Votre vie priv\u00e9e compte pour nous",
        "intro": "Nous utilisons des cookies et technologies similaires pour les statistiques et le marketing uniquement avec votre accord. "
                 "Refuser est aussi simple qu\u2019accepter, et vous pouvez modifier votre choix \u00e0 tout moment via \u00ab\u00a0Param\u00e8tres de confidentialit\u00e9\u00a0\u00bb.",
        "accept_all": "Tout accepter",
        "reject_all": "Tout refuser",
        "choose": "Choisir",
        "save": "Enregistrer mes choix",
        "settings": "Param\u00e8tres de confidentialit\u00e9",
        "close": "Fermer",
        "prefs_title": "Param\u00e8tres de confidentialit\u00e9",
        "prefs_intro": "Choisissez les types de cookies et de services que ce site peut utiliser. Les cookies n\u00e9cessaires font fonctionner le site et ne peuvent pas \u00eatre d\u00e9sactiv\u00e9s.",
        "always_active": "Toujours actif",
        "services": "Services",
        "no_services": "Aucun service de ce type n\u2019est connu sur ce site.",
        "privacy_policy": "Politique de confidentialit\u00e9",
        "vendor_privacy": "politique de confidentialit\u00e9",
        "cookies": "Cookies",
        "session": "session",
        "embed_text": "Ce contenu est h\u00e9berg\u00e9 par {vendor}, qui peut d\u00e9poser des cookies et vous suivre.",
        "load_once": "Charger une fois",
        "always_allow": "Toujours autoriser {vendor}",
        "gpc_note": "Votre navigateur envoie un signal Global Privacy Control\u00a0: le marketing reste d\u00e9sactiv\u00e9.",
        "gpc_honoured": "Nous respectons les signaux Global Privacy Control de votre navigateur.",
        "saved": "Votre choix a \u00e9t\u00e9 enregistr\u00e9.",
        "back": "Retour au site",
        "error": "Votre choix n\u2019a pas pu \u00eatre enregistr\u00e9. Veuillez r\u00e9essayer.",
    },
    "es": {
        "title": "Valoramos su privacidad",
        "intro": "Usamos cookies y tecnolog\u00edas similares para estad\u00edsticas y marketing solo si usted lo acepta. "
                 "Rechazar es tan f\u00e1cil como aceptar, y puede cambiar su elecci\u00f3n en cualquier momento en \u00abAjustes de privacidad\u00bb.",
        "accept_all": "Aceptar todo",
        "reject_all": "Rechazar todo",
        "choose": "Elegir",
        "save": "Guardar selecci\u00f3n",
        "settings": "Ajustes de privacidad",
        "close": "Cerrar",
        "prefs_title": "Ajustes de privacidad",
        "prefs_intro": "Elija qu\u00e9 tipos de cookies y servicios puede usar este sitio. Las necesarias mantienen el sitio en funcionamiento y no se pueden desactivar.",
        "always_active": "Siempre activas",
        "services": "Servicios",
        "no_services": "No se conocen servicios de este tipo en este sitio.",
        "privacy_policy": "Pol\u00edtica de privacidad",
        "vendor_privacy": "pol\u00edtica de privacidad",
        "cookies": "Cookies",
        "session": "sesi\u00f3n",
        "embed_text": "Este contenido lo ofrece {vendor}, que puede instalar cookies y rastrearle.",
        "load_once": "Cargar una vez",
        "always_allow": "Permitir siempre {vendor}",
        "gpc_note": "Su navegador env\u00eda una se\u00f1al Global Privacy Control, por lo que el marketing sigue desactivado.",
        "gpc_honoured": "Respetamos las se\u00f1ales Global Privacy Control de su navegador.",
        "saved": "Su elecci\u00f3n se ha guardado.",
        "back": "Volver al sitio",
        "error": "No se pudo guardar su elecci\u00f3n. Int\u00e9ntelo de nuevo.",
    },
    "it": {
        "title": "La tua privacy \u00e8 importante",
        "intro": "Usiamo cookie e tecnologie simili per statistiche e marketing solo con il tuo consenso. "
                 "Rifiutare \u00e8 facile quanto accettare e puoi cambiare la tua scelta in qualsiasi momento da \u00abImpostazioni privacy\u00bb.",
        "accept_all": "Accetta tutto",
        "reject_all": "Rifiuta tutto",
        "choose": "Scegli",
        "save": "Salva le scelte",
        "settings": "Impostazioni privacy",
        "close": "Chiudi",
        "prefs_title": "Impostazioni privacy",
        "prefs_intro": "Scegli quali tipi di cookie e servizi questo sito pu\u00f2 usare. Quelli necessari fanno funzionare il sito e non si possono disattivare.",
        "always_active": "Sempre attivi",
        "services": "Servizi",
        "no_services": "Su questo sito non sono noti servizi di questo tipo.",
        "privacy_policy": "Informativa sulla privacy",
        "vendor_privacy": "informativa sulla privacy",
        "cookies": "Cookie",
        "session": "sessione",
        "embed_text": "Questo contenuto \u00e8 fornito da {vendor}, che pu\u00f2 impostare cookie e tracciarti.",
        "load_once": "Carica una volta",
        "always_allow": "Consenti sempre {vendor}",
        "gpc_note": "Il tuo browser invia un segnale Global Privacy Control, quindi il marketing resta disattivato.",
        "gpc_honoured": "Rispettiamo i segnali Global Privacy Control del tuo browser.",
        "saved": "La tua scelta \u00e8 stata salvata.",
        "back": "Torna al sito",
        "error": "Non \u00e8 stato possibile salvare la tua scelta. Riprova.",
    },
}

# Labels and descriptions of the four standard categories, used when the site's policy
# gives none for the visitor's language.
CATEGORY_TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        "necessary": ("Necessary", "Needed for the site to work: security, load balancing, your consent choice. They cannot be switched off."),
        "preferences": ("Preferences", "Remember your settings and enable features such as live chat or translation."),
        "analytics": ("Statistics", "Help us understand how the site is used, by counting visits and clicks."),
        "marketing": ("Marketing", "Used by advertisers and social networks to show you ads and track you across sites, and by embedded videos and maps."),
    },
    "nl": {
        "necessary": ("Noodzakelijk", "Nodig om de site te laten werken: beveiliging, load balancing, uw toestemmingskeuze. Ze kunnen niet uit."),
        "preferences": ("Voorkeuren", "Onthouden uw instellingen en maken functies als live chat of vertaling mogelijk."),
        "analytics": ("Statistieken", "Helpen ons te begrijpen hoe de site wordt gebruikt door bezoeken en klikken te tellen."),
        "marketing": ("Marketing", "Gebruikt door adverteerders en sociale netwerken om u advertenties te tonen en over sites te volgen, en door ingesloten video's en kaarten."),
    },
    "de": {
        "necessary": ("Notwendig", "F\u00fcr den Betrieb der Website n\u00f6tig: Sicherheit, Lastverteilung, Ihre Einwilligungsauswahl. Sie lassen sich nicht abschalten."),
        "preferences": ("Pr\u00e4ferenzen", "Merken sich Ihre Einstellungen und erm\u00f6glichen Funktionen wie Live-Chat oder \u00dcbersetzung."),
        "analytics": ("Statistik", "Helfen uns zu verstehen, wie die Website genutzt wird, indem Besuche und Klicks gez\u00e4hlt werden."),
        "marketing": ("Marketing", "Von Werbenetzwerken und sozialen Netzwerken genutzt, um Ihnen Werbung zu zeigen und Sie website\u00fcbergreifend zu verfolgen, sowie von eingebetteten Videos und Karten."),
    },
    "fr": {
        "necessary": ("N\u00e9cessaires", "Indispensables au fonctionnement du site\u00a0: s\u00e9curit\u00e9, r\u00e9partition de charge, votre choix de consentement. Ils ne peuvent pas \u00eatre d\u00e9sactiv\u00e9s."),
        "preferences": ("Pr\u00e9f\u00e9rences", "M\u00e9morisent vos r\u00e9glages et activent des fonctions comme le chat en direct ou la traduction."),
        "analytics": ("Statistiques", "Nous aident \u00e0 comprendre l\u2019utilisation du site en comptant les visites et les clics."),
        "marketing": ("Marketing", "Utilis\u00e9s par les annonceurs et les r\u00e9seaux sociaux pour vous montrer des publicit\u00e9s et vous suivre d\u2019un site \u00e0 l\u2019autre, et par les vid\u00e9os et cartes int\u00e9gr\u00e9es."),
    },
    "es": {
        "necessary": ("Necesarias", "Imprescindibles para que el sitio funcione: seguridad, balanceo de carga, su elecci\u00f3n de consentimiento. No se pueden desactivar."),
        "preferences": ("Preferencias", "Recuerdan sus ajustes y habilitan funciones como el chat en vivo o la traducci\u00f3n."),
        "analytics": ("Estad\u00edsticas", "Nos ayudan a entender c\u00f3mo se usa el sitio contando visitas y clics."),
        "marketing": ("Marketing", "Las usan anunciantes y redes sociales para mostrarle anuncios y seguirle entre sitios, y los v\u00eddeos y mapas incrustados."),
    },
    "it": {
        "necessary": ("Necessari", "Indispensabili al funzionamento del sito: sicurezza, bilanciamento del carico, la tua scelta sul consenso. Non si possono disattivare."),
        "preferences": ("Preferenze", "Ricordano le tue impostazioni e abilitano funzioni come la chat dal vivo o la traduzione."),
        "analytics": ("Statistiche", "Ci aiutano a capire come viene usato il sito contando visite e clic."),
        "marketing": ("Marketing", "Usati da inserzionisti e social network per mostrarti pubblicit\u00e0 e seguirti tra i siti, e da video e mappe incorporati."),
    },
}


def _primary_subtag(tag: str) -> str:
    return tag.strip().split("-")[0].split("_")[0].lower()


def offered_languages(banner: Any) -> tuple[str, ...]:
    """Languages the site offers: its ``banner.languages`` that we have texts for, or all of ours."""
    wanted = getattr(banner, "languages", None) or LANGUAGES
    overrides = getattr(banner, "texts", None) or {}
    offered = tuple(lang for lang in (_primary_subtag(w) for w in wanted) if lang in TEXTS or lang in overrides)
    return offered or LANGUAGES


def default_language(banner: Any) -> str:
    lang = _primary_subtag(getattr(banner, "default_language", None) or DEFAULT_LANGUAGE)
    return lang if lang in TEXTS or lang in (getattr(banner, "texts", None) or {}) else DEFAULT_LANGUAGE


def parse_accept_language(header: str | None) -> list[str]:
    """Primary language subtags from an Accept-Language header, best first (q=0 dropped)."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        piece, _, params = part.strip().partition(";")
        if not piece or piece == "*":
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            # Sort by quality, then by position, as a browser means it.
            weighted.append((-quality, index, _primary_subtag(piece)))
    return [lang for _, _, lang in sorted(weighted)]


_HTML_LANG = re.compile(rb"<html\b[^>]*?\slang\s*=\s*[\"']?([A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*)", re.IGNORECASE)


def sniff_html_lang(data: bytes, limit: int = 4096) -> str | None:
    """The ``lang`` of the ``<html>`` start tag in the first bytes of a page, if it is there.

    For the server: the head snippet is built before the page streams through, so it
    can look at the first chunk (the ``<html>`` tag comes before ``<head>``) and pass the
    result as ``pick_language(..., html_lang=...)``.
    """
    match = _HTML_LANG.search(data[:limit])
    return match.group(1).decode("ascii") if match else None


def pick_language(site: Any, *, html_lang: str | None, accept_language: str | None) -> str:
    """The page's ``<html lang>`` if offered, else the best Accept-Language match, else the site default."""
    banner = getattr(site, "banner", None)
    offered = offered_languages(banner)
    if html_lang and _primary_subtag(html_lang) in offered:
        return _primary_subtag(html_lang)
    for lang in parse_accept_language(accept_language):
        if lang in offered:
            return lang
    fallback = default_language(banner)
    return fallback if fallback in offered else offered[0]


# The policy file's names for some texts (proxy.policy.builtin.BANNER_TEXTS) -> ours.
TEXT_ALIASES: dict[str, str] = {"message": "intro", "customize": "choose", "always_on": "always_active"}


def texts_for(site: Any, lang: str) -> dict[str, str]:
    """Built-in texts for ``lang`` (English for missing keys) with the site's overrides on top."""
    merged = dict(TEXTS[DEFAULT_LANGUAGE])
    merged.update(TEXTS.get(lang, {}))
    overrides: Mapping[str, Any] = getattr(getattr(site, "banner", None), "texts", None) or {}
    for key, value in (overrides.get(lang) or {}).items():
        if isinstance(value, str):
            merged[TEXT_ALIASES.get(key, key)] = value
    return merged


def category_text(site: Any, name: str, lang: str) -> tuple[str, str]:
    """(label, description) of a category: the site's policy first, then ours, then the bare name."""
    builtin = CATEGORY_TEXTS.get(lang, {}).get(name) or CATEGORY_TEXTS[DEFAULT_LANGUAGE].get(name) or (name.capitalize(), "")
    category = (getattr(site, "categories", None) or {}).get(name)
    label_map: Mapping[str, str] = getattr(category, "label", None) or {}
    description_map: Mapping[str, str] = getattr(category, "description", None) or {}
    label = label_map.get(lang) or (builtin[0] if name in CATEGORY_TEXTS[DEFAULT_LANGUAGE] else None) \
        or label_map.get(DEFAULT_LANGUAGE) or builtin[0]
    description = description_map.get(lang) or (builtin[1] if name in CATEGORY_TEXTS[DEFAULT_LANGUAGE] else None) \
        or description_map.get(DEFAULT_LANGUAGE) or builtin[1]
    return label, description

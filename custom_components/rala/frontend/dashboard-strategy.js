// RALA's dashboard: a dashboard strategy (`custom:rala`) and a view strategy per zone
// (`custom:rala-zone`), built from Home Assistant's own cards only. Plain JavaScript, no
// build step: Home Assistant serves this file as it is.
//
// What a zone consists of comes from the integration (websocket command `rala/zones`):
// which entity plays which part, the mapped actuators, the node's health entities, the VPD
// band. The climate entity's modes and growth stages come from `hass.states`. Both are read
// when a view is built (on load), so the gauge shows the band of that moment.

const WS_ZONES = "rala/zones";

// Texts of the dashboard itself; entity names and states are translated by Home
// Assistant from the integration's translations.
export const STRINGS = {
  en: {
    dashboard_title: "Grow",
    overview: "Overview",
    climate: "Climate",
    last_24_hours: "Last 24 hours",
    last_7_days: "Last 7 days",
    last_30_days: "Last 30 days",
    time_in_band: "Time in band",
    equipment: "Equipment",
    node: "Node {name}",
    no_zones:
      "No grow zone yet. Add one under **Settings → Devices & services → RALA Grow Climate**, or confirm a discovered RALA node there.",
    unknown_zone: "This grow zone no longer exists.",
  },
  de: {
    dashboard_title: "Anbau",
    overview: "Übersicht",
    climate: "Klima",
    last_24_hours: "Letzte 24 Stunden",
    last_7_days: "Letzte 7 Tage",
    last_30_days: "Letzte 30 Tage",
    time_in_band: "Zeit im Zielbereich",
    equipment: "Geräte",
    node: "Knoten {name}",
    no_zones:
      "Noch keine Anbauzone. Lege eine unter **Einstellungen → Geräte & Dienste → RALA Grow Climate** an oder bestätige dort einen gefundenen RALA-Knoten.",
    unknown_zone: "Diese Anbauzone gibt es nicht mehr.",
  },
  es: {
    dashboard_title: "Cultivo",
    overview: "Resumen",
    climate: "Clima",
    last_24_hours: "Últimas 24 horas",
    last_7_days: "Últimos 7 días",
    last_30_days: "Últimos 30 días",
    time_in_band: "Tiempo en rango",
    equipment: "Equipos",
    node: "Nodo {name}",
    no_zones:
      "Aún no hay zonas de cultivo. Añade una en **Ajustes → Dispositivos y servicios → RALA Grow Climate**, o confirma allí un nodo RALA descubierto.",
    unknown_zone: "Esta zona de cultivo ya no existe.",
  },
  fr: {
    dashboard_title: "Culture",
    overview: "Vue d'ensemble",
    climate: "Climat",
    last_24_hours: "Dernières 24 heures",
    last_7_days: "7 derniers jours",
    last_30_days: "30 derniers jours",
    time_in_band: "Temps dans la plage",
    equipment: "Équipements",
    node: "Nœud {name}",
    no_zones:
      "Aucune zone de culture pour l'instant. Ajoutez-en une dans **Paramètres → Appareils et services → RALA Grow Climate**, ou confirmez-y un nœud RALA découvert.",
    unknown_zone: "Cette zone de culture n'existe plus.",
  },
  nl: {
    dashboard_title: "Kweek",
    overview: "Overzicht",
    climate: "Klimaat",
    last_24_hours: "Laatste 24 uur",
    last_7_days: "Laatste 7 dagen",
    last_30_days: "Laatste 30 dagen",
    time_in_band: "Tijd binnen bereik",
    equipment: "Apparatuur",
    node: "Node {name}",
    no_zones:
      "Nog geen kweekzone. Voeg er een toe onder **Instellingen → Apparaten & diensten → RALA Grow Climate**, of bevestig daar een gevonden RALA-node.",
    unknown_zone: "Deze kweekzone bestaat niet meer.",
  },
};

// The gauge shows VPD up to at least this (kPa), and some room above the band.
const GAUGE_MIN_MAX = 2.0;
const GAUGE_HEADROOM = 0.6;
// Too low, in band, too high.
const SEGMENT_COLORS = {
  too_low: "var(--info-color, #039be5)",
  in_range: "var(--success-color, #43a047)",
  too_high: "var(--error-color, #db4437)",
};
const HALF = { grid_options: { columns: 6 } };
const FULL = { grid_options: { columns: 12 } };
// The zone's heading names the zone: cards name only the entity ("Leaf VPD", not
// "Tent Leaf VPD"), which also keeps the names short enough for a phone.
const ENTITY_NAME = [{ type: "entity" }];
// The gauge beside three one-row tiles.
const GAUGE_LAYOUT = { grid_options: { columns: 6, rows: 3 } };
const ROW = { grid_options: { columns: 6, rows: 1 } };

/** The dashboard's texts in the user's language (English where there is none). */
export function strings(hass) {
  const language = String(hass?.locale?.language ?? hass?.language ?? "en");
  const base = language.split("-")[0].toLowerCase();
  return STRINGS[language] ?? STRINGS[base] ?? STRINGS.en;
}

function format(text, values) {
  return text.replace(/\{(\w+)\}/g, (match, key) => values[key] ?? match);
}

/** A URL path for each zone, unique within the dashboard. */
export function viewPaths(zones) {
  const used = new Set(["overview"]);
  return zones.map((zone) => {
    const slug =
      String(zone.name)
        .normalize("NFKD")
        .replace(/[\u0300-\u036f]/g, "")
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, "-")
        .replace(/^-+|-+$/g, "") || "zone";
    let path = slug;
    for (let index = 2; used.has(path); index += 1) path = `${slug}-${index}`;
    used.add(path);
    return path;
  });
}

/** The dashboard: an overview when there are several zones, then one view per zone. */
export function dashboardConfig(zones, hass) {
  const text = strings(hass);
  if (zones.length === 0) {
    return {
      title: text.dashboard_title,
      views: [
        {
          title: text.dashboard_title,
          path: "overview",
          type: "sections",
          max_columns: 1,
          sections: [{ type: "grid", cards: [{ type: "markdown", content: text.no_zones }] }],
        },
      ],
    };
  }
  const paths = viewPaths(zones);
  const views = zones.map((zone, index) => ({
    title: zone.name,
    path: paths[index],
    icon: "mdi:sprout",
    strategy: { type: "custom:rala-zone", entry_id: zone.entry_id },
  }));
  if (zones.length > 1) {
    views.unshift({
      title: text.overview,
      path: "overview",
      icon: "mdi:view-dashboard-variant",
      strategy: { type: "custom:rala-overview" },
    });
  }
  return { title: text.dashboard_title, views };
}

function stateOf(hass, entityId) {
  return entityId ? hass.states?.[entityId] : undefined;
}

/** A gauge of the VPD the targets refer to, its segments the current band. */
export function vpdGauge(zone, layout = GAUGE_LAYOUT) {
  const [low, high] = zone.vpd_band;
  const max = Math.max(GAUGE_MIN_MAX, Math.ceil((high + GAUGE_HEADROOM) * 10) / 10);
  // No segment labels: a gauge shows a segment's label instead of the value.
  return {
    type: "gauge",
    entity: zone.vpd_entity,
    name: ENTITY_NAME,
    min: 0,
    max,
    needle: true,
    segments: [
      { from: 0, color: SEGMENT_COLORS.too_low },
      { from: low, color: SEGMENT_COLORS.in_range },
      { from: high, color: SEGMENT_COLORS.too_high },
    ],
    ...layout,
  };
}

/** The climate entity's tile: mode, target temperature, growth stage (its presets). */
export function climateTile(zone, hass) {
  const climate = zone.entities.climate;
  const attributes = stateOf(hass, climate)?.attributes ?? {};
  const features = [];
  const modes = attributes.hvac_modes ?? [];
  if (modes.length > 1) {
    features.push({ type: "climate-hvac-modes", style: "icons", hvac_modes: modes });
  }
  features.push({ type: "target-temperature" });
  if ((attributes.preset_modes ?? []).length > 0) {
    features.push({
      type: "climate-preset-modes",
      style: "dropdown",
      preset_modes: attributes.preset_modes,
    });
  }
  return {
    type: "tile",
    entity: climate,
    name: ENTITY_NAME,
    state_content: ["hvac_action", "reason"],
    features,
    features_position: "bottom",
    ...FULL,
  };
}

function tile(entity, extra = {}) {
  return { type: "tile", entity, name: ENTITY_NAME, ...HALF, ...extra };
}

function present(...entityIds) {
  return entityIds.filter((entityId) => typeof entityId === "string" && entityId);
}

// The integration lists a zone's actuators in its own order of kinds (heat, cool, water,
// air, light), so the dashboard keeps that order instead of spelling the kinds again.
function actuatorsOf(zone) {
  return Object.values(zone.actuators).filter(Boolean);
}

/** The zone's heading: name, growth stage, day or night, and what is running. */
export function zoneHeading(zone, extra = {}) {
  const { climate, growth_stage: growthStage } = zone.entities;
  const badges = [];
  if (growthStage) badges.push({ type: "entity", entity: growthStage, show_state: true });
  if (climate) {
    badges.push({
      type: "entity",
      entity: climate,
      show_state: true,
      show_icon: true,
      icon: "mdi:theme-light-dark",
      state_content: "period",
    });
  }
  for (const actuator of actuatorsOf(zone)) {
    badges.push({
      type: "entity",
      entity: actuator,
      show_state: false,
      show_icon: true,
      color: "state",
      state_content: "name",
      visibility: [{ condition: "state", entity: actuator, state: "on" }],
    });
  }
  return {
    type: "heading",
    heading: zone.name,
    heading_style: "title",
    icon: "mdi:sprout",
    badges,
    ...extra,
  };
}

function heading(text) {
  return { type: "heading", heading: text, heading_style: "subtitle" };
}

/** One zone's view: phone first, the most important at the top. */
export function zoneView(zone, hass) {
  const text = strings(hass);
  const entities = zone.entities;
  const sections = [];

  sections.push({
    type: "grid",
    cards: [
      zoneHeading(zone),
      vpdGauge(zone),
      ...present(zone.inputs.temperature, zone.inputs.humidity, entities.vpd_status).map(
        (entity) => tile(entity, ROW),
      ),
      ...present(entities.dew_point, entities.air_vpd).map((entity) => tile(entity, ROW)),
    ],
  });

  sections.push({
    type: "grid",
    cards: [heading(text.climate), climateTile(zone, hass)],
  });

  const band = present(zone.vpd_entity, entities.vpd_band_low, entities.vpd_band_high);
  sections.push({
    type: "grid",
    cards: [
      heading(text.last_24_hours),
      { type: "history-graph", hours_to_show: 24, entities: band, ...FULL },
      { type: "history-graph", hours_to_show: 24, entities: present(entities.climate), ...FULL },
    ],
  });

  const longTerm = present(zone.vpd_entity, zone.inputs.temperature);
  sections.push({
    type: "grid",
    cards: [
      heading(text.last_7_days),
      statisticsGraph(longTerm, 7),
      heading(text.last_30_days),
      statisticsGraph(longTerm, 30),
    ],
  });

  sections.push({
    type: "grid",
    cards: [
      heading(text.time_in_band),
      ...present(
        entities.vpd_in_band_today,
        entities.vpd_in_band_24h,
        entities.temperature_in_band_today,
        entities.temperature_in_band_24h,
      ).map((entity) => tile(entity)),
      ...present(entities.out_of_band_streak).map((entity) => tile(entity, FULL)),
    ],
  });

  const actuators = actuatorsOf(zone);
  if (actuators.length > 0) {
    sections.push({
      type: "grid",
      cards: [
        heading(text.equipment),
        ...actuators.map((entity) => tile(entity, { state_content: ["state", "last_changed"] })),
      ],
    });
  }

  if (zone.node) {
    sections.push({
      type: "grid",
      cards: [
        heading(format(text.node, { name: zone.node.name ?? "" })),
        ...present(entities.node_connectivity, ...zone.node.diagnostics).map((entity) =>
          tile(entity),
        ),
      ],
    });
  }

  return { type: "sections", max_columns: 3, sections };
}

function statisticsGraph(entities, days) {
  return {
    type: "statistics-graph",
    entities,
    days_to_show: days,
    period: "day",
    stat_types: ["mean", "min", "max"],
    chart_type: "line",
    ...FULL,
  };
}

/** Every zone at a glance: its heading (tap to open it), its VPD and its climate. */
export function overviewView(zones) {
  const paths = viewPaths(zones);
  return {
    type: "sections",
    max_columns: 3,
    sections: zones.map((zone, index) => ({
      type: "grid",
      cards: [
        zoneHeading(zone, {
          tap_action: { action: "navigate", navigation_path: paths[index] },
        }),
        vpdGauge(zone),
        ...present(zone.inputs.temperature, zone.inputs.humidity, zone.entities.vpd_status).map(
          (entity) => tile(entity, ROW),
        ),
      ],
    })),
  };
}

async function fetchZones(hass) {
  const { zones } = await hass.callWS({ type: WS_ZONES });
  return zones;
}

function messageView(message) {
  return {
    type: "sections",
    max_columns: 1,
    sections: [{ type: "grid", cards: [{ type: "markdown", content: message }] }],
  };
}

// Strategies are custom elements; outside a browser (the module's tests) a plain class.
const StrategyElement = globalThis.HTMLElement ?? class {};

class RalaDashboardStrategy extends StrategyElement {
  static async generate(_config, hass) {
    return dashboardConfig(await fetchZones(hass), hass);
  }
}

class RalaZoneViewStrategy extends StrategyElement {
  static async generate(config, hass) {
    const zones = await fetchZones(hass);
    const zone = config.entry_id
      ? zones.find((candidate) => candidate.entry_id === config.entry_id)
      : zones[0];
    return zone ? zoneView(zone, hass) : messageView(strings(hass).unknown_zone);
  }
}

class RalaOverviewViewStrategy extends StrategyElement {
  static async generate(_config, hass) {
    const zones = await fetchZones(hass);
    return zones.length > 0 ? overviewView(zones) : messageView(strings(hass).no_zones);
  }
}

/** Define the strategies (once, however often the module is loaded). */
export function register(registry = globalThis.customElements, target = globalThis.window) {
  if (!registry) return;
  for (const [tag, strategy] of [
    ["ll-strategy-dashboard-rala", RalaDashboardStrategy],
    ["ll-strategy-view-rala-zone", RalaZoneViewStrategy],
    ["ll-strategy-view-rala-overview", RalaOverviewViewStrategy],
  ]) {
    if (!registry.get(tag)) registry.define(tag, strategy);
  }
  // Offered under Settings → Dashboards → Add dashboard (Home Assistant 2026.5 and later).
  target.customStrategies = target.customStrategies ?? [];
  if (!target.customStrategies.some((entry) => entry.type === "rala")) {
    target.customStrategies.push({
      type: "rala",
      strategyType: "dashboard",
      name: "RALA Grow",
      description: "Your grow zones: VPD, targets, climate control and history, for the phone.",
      documentationURL: "https://github.com/rala-grow/rala/blob/main/docs/user-guide.md#dashboard",
    });
  }
}

if (globalThis.HTMLElement) register();

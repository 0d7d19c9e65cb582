// The dashboard strategy's pure parts, run with Node's own test runner (`node --test`).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  STRINGS,
  dashboardConfig,
  overviewView,
  register,
  strings,
  viewPaths,
  vpdGauge,
  zoneView,
} from "../../custom_components/rala/frontend/dashboard-strategy.js";

function zone(name, changes = {}) {
  const slug = name.toLowerCase().replace(/ /g, "_");
  const keys = [
    "air_vpd",
    "leaf_vpd",
    "dew_point",
    "absolute_humidity",
    "vpd_status",
    "vpd_band_low",
    "vpd_band_high",
    "vpd_in_band_today",
    "vpd_in_band_24h",
    "temperature_in_band_today",
    "temperature_in_band_24h",
    "out_of_band_streak",
  ];
  const entities = Object.fromEntries(keys.map((key) => [key, `sensor.${slug}_${key}`]));
  entities.climate = `climate.${slug}`;
  entities.growth_stage = `select.${slug}_growth_stage`;
  return {
    entry_id: `entry_${slug}`,
    name,
    entities,
    inputs: {
      temperature: `sensor.${slug}_temperature`,
      humidity: `sensor.${slug}_humidity`,
      leaf_temperature: null,
    },
    actuators: { heater: `switch.${slug}_heater`, light: `light.${slug}` },
    vpd_entity: entities.leaf_vpd,
    vpd_band: [0.8, 1.2],
    node: null,
    ...changes,
  };
}

function hass(language = "en", states = {}) {
  return {
    locale: { language },
    states,
  };
}

function cardsOf(view) {
  return view.sections.flatMap((section) => section.cards);
}

function referencedEntities(value) {
  if (Array.isArray(value)) return value.flatMap(referencedEntities);
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([key, inner]) => {
    if ((key === "entity" || key === "entities") && typeof inner === "string") return [inner];
    if (key === "entities" && Array.isArray(inner)) {
      return inner.map((item) => (typeof item === "string" ? item : item.entity));
    }
    return referencedEntities(inner);
  });
}

function zoneEntityIds(description) {
  return new Set([
    ...Object.values(description.entities),
    ...Object.values(description.inputs).filter(Boolean),
    ...Object.values(description.actuators),
    ...(description.node?.diagnostics ?? []),
  ]);
}

test("no zone: one view that says how to add one", () => {
  const config = dashboardConfig([], hass());
  assert.equal(config.views.length, 1);
  assert.equal(config.views[0].sections[0].cards[0].type, "markdown");
  assert.equal(config.views[0].sections[0].cards[0].content, STRINGS.en.no_zones);
});

test("one zone: its own view, no overview", () => {
  const config = dashboardConfig([zone("Tent")], hass());
  assert.deepEqual(
    config.views.map((view) => view.strategy),
    [{ type: "custom:rala-zone", entry_id: "entry_tent" }],
  );
});

test("several zones: an overview first, then a view per zone with unique paths", () => {
  const zones = [zone("Flower tent"), zone("Flower-tent"), zone("Überraum")];
  const config = dashboardConfig(zones, hass());
  assert.equal(config.views[0].strategy.type, "custom:rala-overview");
  assert.deepEqual(
    config.views.map((view) => view.path),
    ["overview", "flower-tent", "flower-tent-2", "uberraum"],
  );
  assert.deepEqual(viewPaths([zone("Overview"), zone("***")]), ["overview-2", "zone"]);
});

test("a zone view references only the zone's own entities, each of them by part", () => {
  const description = zone("Tent");
  const view = zoneView(description, hass());
  const referenced = referencedEntities(view);
  assert.ok(referenced.length > 0);
  const known = zoneEntityIds(description);
  for (const entityId of referenced) assert.ok(known.has(entityId), `${entityId} is unknown`);
  for (const part of ["climate", "leaf_vpd", "vpd_band_low", "vpd_in_band_today"]) {
    assert.ok(referenced.includes(description.entities[part]), `${part} is not shown`);
  }
  assert.ok(!referenced.includes(undefined));
});

test("the gauge's segments are the band, and it shows the value", () => {
  const gauge = vpdGauge(zone("Tent", { vpd_band: [1.0, 1.5] }));
  assert.deepEqual(
    gauge.segments.map((segment) => segment.from),
    [0, 1.0, 1.5],
  );
  assert.ok(gauge.segments.every((segment) => segment.label === undefined));
  assert.equal(gauge.max, 2.1);
  assert.equal(vpdGauge(zone("Tent")).max, 2.0);
  assert.equal(gauge.entity, "sensor.tent_leaf_vpd");
});

test("running actuators show as badges only while on, in the integration's order", () => {
  const view = zoneView(zone("Tent"), hass());
  const [header] = cardsOf(view);
  assert.equal(header.type, "heading");
  const actuatorBadges = header.badges.filter((badge) => badge.visibility);
  assert.deepEqual(
    actuatorBadges.map((badge) => badge.entity),
    ["switch.tent_heater", "light.tent"],
  );
  for (const badge of actuatorBadges) {
    assert.deepEqual(badge.visibility, [{ condition: "state", entity: badge.entity, state: "on" }]);
  }
});

test("the climate tile offers the entity's own modes and growth stages", () => {
  const description = zone("Tent");
  const states = {
    "climate.tent": {
      attributes: { hvac_modes: ["off", "heat"], preset_modes: ["seedling", "drying"] },
    },
  };
  const tile = cardsOf(zoneView(description, hass("en", states))).find(
    (card) => card.entity === "climate.tent" && card.type === "tile",
  );
  assert.deepEqual(
    tile.features.map((feature) => feature.type),
    ["climate-hvac-modes", "target-temperature", "climate-preset-modes"],
  );
  assert.deepEqual(tile.features[0].hvac_modes, ["off", "heat"]);
  assert.deepEqual(tile.features[2].preset_modes, ["seedling", "drying"]);
});

test("a node zone shows the node's health; other zones do not", () => {
  const node = {
    device_id: "node",
    name: "Tent Pi",
    diagnostics: ["sensor.tent_pi_outbox_depth", "sensor.tent_pi_wifi_signal"],
  };
  const description = zone("Tent", { node });
  description.entities.node_connectivity = "binary_sensor.tent_connectivity";
  const referenced = referencedEntities(zoneView(description, hass()));
  for (const entityId of [...node.diagnostics, "binary_sensor.tent_connectivity"]) {
    assert.ok(referenced.includes(entityId), `${entityId} is not shown`);
  }
  const headings = cardsOf(zoneView(description, hass("de"))).map((card) => card.heading);
  assert.ok(headings.includes("Knoten Tent Pi"));
  const plain = referencedEntities(zoneView(zone("Tent"), hass()));
  assert.ok(!plain.some((entityId) => entityId.includes("tent_pi")));
});

test("the overview opens each zone's view", () => {
  const zones = [zone("A"), zone("B")];
  const view = overviewView(zones);
  assert.equal(view.sections.length, 2);
  const paths = view.sections.map((section) => section.cards[0].tap_action.navigation_path);
  assert.deepEqual(paths, ["a", "b"]);
});

test("every language has every text, with the same placeholders", () => {
  const placeholders = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();
  for (const [language, texts] of Object.entries(STRINGS)) {
    assert.deepEqual(Object.keys(texts).sort(), Object.keys(STRINGS.en).sort(), language);
    for (const [key, text] of Object.entries(texts)) {
      assert.deepEqual(placeholders(text), placeholders(STRINGS.en[key]), `${language}.${key}`);
    }
  }
  assert.equal(strings(hass("de-CH")), STRINGS.de);
  assert.equal(strings(hass("pt")), STRINGS.en);
});

test("registering defines the strategies and offers the dashboard once", () => {
  const defined = new Map();
  const registry = {
    get: (tag) => defined.get(tag),
    define: (tag, strategy) => {
      assert.ok(!defined.has(tag), `${tag} defined twice`);
      defined.set(tag, strategy);
    },
  };
  const target = {};
  register(registry, target);
  register(registry, target);
  assert.deepEqual(
    [...defined.keys()].sort(),
    ["ll-strategy-dashboard-rala", "ll-strategy-view-rala-overview", "ll-strategy-view-rala-zone"],
  );
  assert.equal(target.customStrategies.length, 1);
  assert.equal(target.customStrategies[0].type, "rala");
  assert.equal(target.customStrategies[0].strategyType, "dashboard");
});

test("the strategies ask the integration for the zones and build from its answer", async () => {
  const defined = new Map();
  register({ get: (tag) => defined.get(tag), define: (tag, cls) => defined.set(tag, cls) }, {});
  const zones = [zone("Tent"), zone("Bloom")];
  const asked = [];
  const fakeHass = {
    ...hass(),
    callWS: async (message) => {
      asked.push(message);
      return { zones };
    },
  };
  const dashboard = await defined.get("ll-strategy-dashboard-rala").generate({}, fakeHass);
  assert.equal(dashboard.views.length, 3);
  const view = await defined
    .get("ll-strategy-view-rala-zone")
    .generate({ entry_id: "entry_bloom" }, fakeHass);
  assert.equal(cardsOf(view)[0].heading, "Bloom");
  const gone = await defined.get("ll-strategy-view-rala-zone").generate({ entry_id: "x" }, fakeHass);
  assert.equal(cardsOf(gone)[0].content, STRINGS.en.unknown_zone);
  const overview = await defined.get("ll-strategy-view-rala-overview").generate({}, fakeHass);
  assert.equal(overview.sections.length, 2);
  assert.ok(asked.every((message) => message.type === "rala/zones"));
});

test("dashboards/rala-grow.yaml is the strategy's current layout", async () => {
  const { execFileSync } = await import("node:child_process");
  const { readFileSync } = await import("node:fs");
  const root = new URL("../../", import.meta.url);
  const written = execFileSync(process.execPath, [new URL("scripts/dashboard-yaml", root).pathname]);
  const committed = readFileSync(new URL("dashboards/rala-grow.yaml", root));
  assert.equal(
    written.toString(),
    committed.toString(),
    "run scripts/dashboard-yaml > dashboards/rala-grow.yaml",
  );
});

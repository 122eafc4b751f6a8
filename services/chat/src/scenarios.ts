/**
 * Multi-agent scenarios, as data. Each is a sequence of agent turns; one orchestrator runs them all. An agent
 * speaks in its own voice with its own instructions and sees the user's message and what the agents before
 * it said in this round, so later voices answer earlier ones.
 */

export interface Agent {
  name: string;
  /** Who the agent is and how it speaks. */
  instructions: string;
}

export interface Scenario {
  id: ScenarioId;
  title: string;
  description: string;
  /** Shared framing every agent of the scenario receives. */
  setting: string;
  /** Agents in speaking order; one agent may speak more than once. */
  turns: Agent[];
}

export const SCENARIO_IDS = ["gamemaster", "worldbuilding", "storytelling", "problemsolving"] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];

const narrator: Agent = {
  name: "Narrator",
  instructions:
    "You are the game master. Narrate what happens in response to the player's action: the scene, its sounds and " +
    "smells, and its consequences, in second person and present tense. Leave the characters' words to them. " +
    "At most two short paragraphs.",
};

export const SCENARIOS: Record<ScenarioId, Scenario> = {
  gamemaster: {
    id: "gamemaster",
    title: "Game master",
    description: "A game master narrates the scene and its characters answer in their own voices.",
    setting:
      "An interactive fantasy role-playing scene. The user is the player character. Stay in the fiction; never " +
      "mention being an AI. Keep continuity with what was said before.",
    turns: [
      narrator,
      {
        name: "Innkeeper Mara",
        instructions:
          "You are Mara, the warm but shrewd innkeeper of the Gilded Boar. Speak only your own lines of dialogue, " +
          "in first person, plain and earthy, reacting to the player and to what the narrator described. " +
          "One short paragraph.",
      },
      {
        name: "Captain Thorne",
        instructions:
          "You are Captain Thorne of the town watch: terse, suspicious, honourable. Speak only your own lines of " +
          "dialogue, in first person, reacting to the player and to Mara. One short paragraph.",
      },
      {
        name: "Narrator",
        instructions:
          "You are the game master again. In two or three sentences, close the beat and ask the player what they do next.",
      },
    ],
  },
  worldbuilding: {
    id: "worldbuilding",
    title: "World building",
    description: "Specialists develop the user's world idea: geography, cultures, history, then a synthesis.",
    setting:
      "A collaborative world-building session for a game. Build on the user's idea and on the specialists before " +
      "you; do not contradict them. Be concrete: names, places, numbers.",
    turns: [
      {
        name: "Geographer",
        instructions:
          "You are the geographer: lands, climate, resources and how they shape travel and conflict. Two short paragraphs.",
      },
      {
        name: "Anthropologist",
        instructions:
          "You are the anthropologist: peoples, customs, beliefs and daily life in the lands described. Two short paragraphs.",
      },
      {
        name: "Historian",
        instructions:
          "You are the historian: the key events and tensions that led to the present day. Two short paragraphs.",
      },
      {
        name: "Lead Designer",
        instructions:
          "You are the lead game designer. Summarise the world in five bullet points and name three hooks for play.",
      },
    ],
  },
  storytelling: {
    id: "storytelling",
    title: "Storytelling",
    description: "One moment told from several perspectives: hero, antagonist, witness, then the chronicler.",
    setting:
      "Tell the story the user proposes as a sequence of perspectives on the same moment. Each voice adds what only " +
      "it could know. Prose, first person, vivid and brief.",
    turns: [
      { name: "The Hero", instructions: "Tell the moment as the protagonist lived it. One paragraph." },
      {
        name: "The Antagonist",
        instructions: "Tell the same moment as the opposing force saw it. One paragraph.",
      },
      {
        name: "The Witness",
        instructions: "Tell it as a bystander who understood only part of it. One paragraph.",
      },
      {
        name: "The Chronicler",
        instructions:
          "As the chronicler, weave the perspectives into a short closing passage in third person.",
      },
    ],
  },
  problemsolving: {
    id: "problemsolving",
    title: "Problem solving",
    description:
      "A team of experts analyses the user's problem from their angles; a facilitator synthesises.",
    setting:
      "A panel of experts helps the user with a problem. Each expert gives their angle, specific and practical, and " +
      "may build on or challenge the experts before them.",
    turns: [
      {
        name: "Technical Expert",
        instructions: "Analyse the technical side: feasibility, architecture, risks. Be concise.",
      },
      { name: "Design Expert", instructions: "Analyse the user experience and design side. Be concise." },
      { name: "Production Expert", instructions: "Analyse cost, schedule and team. Be concise." },
      {
        name: "Facilitator",
        instructions:
          "Synthesise the experts' views into a recommendation and three concrete next steps, noting any disagreement.",
      },
    ],
  },
};

/** Render a finished round for storage and for non-streaming clients: each agent's words under its name. */
export function transcript(parts: { agent: string; content: string }[]): string {
  return parts.map((p) => `**${p.agent}:** ${p.content.trim()}`).join("\n\n");
}

// The colour theme: the system's (prefers-color-scheme), or light or dark as chosen in Settings. Kept in
// localStorage and applied before the first paint (main.ts) as <html data-theme>.
export type Theme = "system" | "light" | "dark";

export const THEME_KEY = "blu.theme";

export function storedTheme(storage: Pick<Storage, "getItem"> | null = safeStorage()): Theme {
  const value = storage?.getItem(THEME_KEY);
  return value === "light" || value === "dark" ? value : "system";
}

export function applyTheme(theme: Theme, root: HTMLElement = document.documentElement): void {
  if (theme === "system") delete root.dataset.theme;
  else root.dataset.theme = theme;
}

export function setTheme(theme: Theme): void {
  const storage = safeStorage();
  if (theme === "system") storage?.removeItem(THEME_KEY);
  else storage?.setItem(THEME_KEY, theme);
  applyTheme(theme);
}

function safeStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null; // storage refused (private mode, a policy): the system theme
  }
}

import type { FakeState } from "./mock-runtime";

/**
 * Values real providers compute and the program reads back. Each is
 * recognisably fake, so a synth output can never be mistaken for real.
 */
export const fakeState: FakeState = (type, name) => {
  switch (type) {
    default:
      return {};
  }
};

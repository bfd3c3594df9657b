/** Where a command writes: stdout for results, stderr for progress and errors. */
export interface CommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/**
 * A parsed JSON response, read by assertions as it comes. Tests check the shape with expect(); a
 * static type here would only restate what the assertions already say.
 */
export interface Json {
  // biome-ignore lint/suspicious/noExplicitAny: assertions read the API's JSON as it comes
  [key: string]: any;
}

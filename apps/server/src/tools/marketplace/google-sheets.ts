import { auth, type sheets_v4, sheets as sheetsApi } from '@googleapis/sheets';
import { callGoogle, googleClientOptions, requestOptions } from './google.js';
import type { OfficialTool, OfficialToolContext } from './official-tool.js';

const provider = 'Google Sheets';

/** A client for one call: the caller's access token, the configured API root, no retries. */
function client(context: OfficialToolContext): sheets_v4.Sheets {
  const oauth = new auth.OAuth2();
  oauth.setCredentials({ access_token: context.credentials.token ?? '' });
  return sheetsApi({ version: 'v4', auth: oauth, ...googleClientOptions(context) });
}

const call = <T>(context: OfficialToolContext, run: (sheets: sheets_v4.Sheets) => Promise<T>) =>
  callGoogle(provider, context, () => run(client(context)));

const spreadsheetId = {
  type: 'string',
  pattern: '^[A-Za-z0-9_-]{1,200}$',
  description: 'the spreadsheet id (the long part of its URL, after /d/)',
};
const range = {
  type: 'string',
  minLength: 1,
  maxLength: 500,
  description: "an A1 range: Sheet1!A1:C10, 'My sheet'!A:A, A1:B2 (the first sheet) or a sheet name",
};
const values = {
  type: 'array',
  minItems: 1,
  maxItems: 10_000,
  items: {
    type: 'array',
    maxItems: 1000,
    items: { type: ['string', 'number', 'boolean', 'null'], maxLength: 50_000 },
  },
  description: 'rows of cell values; null leaves a cell as it is, "" clears it',
};
const valueInputOption = {
  type: 'string',
  enum: ['USER_ENTERED', 'RAW'],
  default: 'USER_ENTERED',
  description: 'USER_ENTERED reads values as typed in the UI (numbers, dates, =formulas); RAW stores them as given',
};

const updated = (data: sheets_v4.Schema$UpdateValuesResponse | undefined) => ({
  updatedRange: data?.updatedRange ?? null,
  updatedRows: data?.updatedRows ?? 0,
  updatedColumns: data?.updatedColumns ?? 0,
  updatedCells: data?.updatedCells ?? 0,
});

/** Google Sheets of the signed-in Google account, through the Sheets API v4. */
export const googleSheets: OfficialTool = {
  name: 'google-sheets',
  description: 'Google Sheets: read, write and append cell values; create spreadsheets',
  provider: 'Google',
  auth: { kind: 'oauth', provider: 'google', scopes: ['https://www.googleapis.com/auth/spreadsheets'] },
  credentials: {
    required: ['token'],
    schema: { token: { type: 'string', description: 'a Google OAuth 2.0 access token with a Sheets scope' } },
  },
  defaultBaseUrl: 'https://sheets.googleapis.com',
  actions: {
    get_values: {
      description: 'The values of a range, row by row (trailing empty cells and rows are left out)',
      parameters: {
        type: 'object',
        properties: {
          spreadsheetId,
          range,
          valueRenderOption: {
            type: 'string',
            enum: ['FORMATTED_VALUE', 'UNFORMATTED_VALUE', 'FORMULA'],
            default: 'FORMATTED_VALUE',
            description: 'as shown (strings), the underlying numbers and booleans, or formulas as typed',
          },
          majorDimension: { type: 'string', enum: ['ROWS', 'COLUMNS'], default: 'ROWS' },
        },
        required: ['spreadsheetId', 'range'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (sheets) => {
          const { data } = await sheets.spreadsheets.values.get(
            {
              spreadsheetId: params.spreadsheetId as string,
              range: params.range as string,
              valueRenderOption: params.valueRenderOption as string,
              majorDimension: params.majorDimension as string,
            },
            requestOptions(context),
          );
          return {
            range: data.range ?? null,
            majorDimension: data.majorDimension ?? params.majorDimension,
            values: data.values ?? [],
          };
        }),
    },
    update_values: {
      description: 'Write rows of values into a range, starting at its top left cell',
      parameters: {
        type: 'object',
        properties: { spreadsheetId, range, values, valueInputOption },
        required: ['spreadsheetId', 'range', 'values'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (sheets) => {
          const { data } = await sheets.spreadsheets.values.update(
            {
              spreadsheetId: params.spreadsheetId as string,
              range: params.range as string,
              valueInputOption: params.valueInputOption as string,
              requestBody: { majorDimension: 'ROWS', values: params.values as unknown[][] },
            },
            requestOptions(context),
          );
          return { spreadsheetId: data.spreadsheetId ?? params.spreadsheetId, ...updated(data) };
        }),
    },
    append_values: {
      description:
        'Append rows after the table found in a range (e.g. Sheet1!A:D): the rows go below its last row of data',
      parameters: {
        type: 'object',
        properties: {
          spreadsheetId,
          range,
          values,
          valueInputOption,
          insertDataOption: {
            type: 'string',
            enum: ['INSERT_ROWS', 'OVERWRITE'],
            default: 'INSERT_ROWS',
            description: 'insert new rows for the data, or write over the cells below the table',
          },
        },
        required: ['spreadsheetId', 'range', 'values'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (sheets) => {
          const { data } = await sheets.spreadsheets.values.append(
            {
              spreadsheetId: params.spreadsheetId as string,
              range: params.range as string,
              valueInputOption: params.valueInputOption as string,
              insertDataOption: params.insertDataOption as string,
              requestBody: { majorDimension: 'ROWS', values: params.values as unknown[][] },
            },
            requestOptions(context),
          );
          return {
            spreadsheetId: data.spreadsheetId ?? params.spreadsheetId,
            tableRange: data.tableRange ?? null,
            ...updated(data.updates ?? undefined),
          };
        }),
    },
    create_spreadsheet: {
      description: 'Create a spreadsheet, with named sheets (one sheet, Sheet1, if none are given)',
      parameters: {
        type: 'object',
        properties: {
          title: { type: 'string', minLength: 1, maxLength: 256 },
          sheetTitles: {
            type: 'array',
            items: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[^\\[\\]*?/\\\\:]+$' },
            minItems: 1,
            maxItems: 200,
            uniqueItems: true,
          },
        },
        required: ['title'],
        additionalProperties: false,
      },
      execute: (params, context) =>
        call(context, async (sheets) => {
          const titles = params.sheetTitles as string[] | undefined;
          const { data } = await sheets.spreadsheets.create(
            {
              requestBody: {
                properties: { title: params.title as string },
                ...(titles ? { sheets: titles.map((title) => ({ properties: { title } })) } : {}),
              },
            },
            requestOptions(context),
          );
          return {
            spreadsheetId: data.spreadsheetId,
            title: data.properties?.title ?? params.title,
            url: data.spreadsheetUrl ?? null,
            sheets: (data.sheets ?? []).map((sheet) => ({
              sheetId: sheet.properties?.sheetId ?? null,
              title: sheet.properties?.title ?? null,
              index: sheet.properties?.index ?? null,
              rowCount: sheet.properties?.gridProperties?.rowCount ?? null,
              columnCount: sheet.properties?.gridProperties?.columnCount ?? null,
            })),
          };
        }),
    },
  },
};

import java.time.DateTimeException;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;

/** The clicks schema's ISO-8601 event time, as Concord reads it; compiled into every Java peer. */
public final class ClickTime {
  private ClickTime() {}

  // OffsetDateTime's own ISO parser rejects offsets without a colon ("-0300"), which produce writes too.
  private static final DateTimeFormatter ISO = new DateTimeFormatterBuilder()
      .parseCaseInsensitive()
      .append(DateTimeFormatter.ISO_LOCAL_DATE)
      .optionalStart().appendLiteral('T').optionalEnd()
      .optionalStart().appendLiteral(' ').optionalEnd()
      .append(DateTimeFormatter.ISO_LOCAL_TIME)
      .appendPattern("[XXX][XX][X]")
      .toFormatter();

  /** Epoch ms of an ISO-8601 time with Z or an offset, or null when it is not one. */
  public static Long isoMillis(String text) {
    try {
      return OffsetDateTime.parse(text, ISO).toInstant().toEpochMilli();
    } catch (DateTimeException notIso) {
      return null;
    }
  }
}

// What a BI tool does over JDBC: list tables and columns through DatabaseMetaData, then run
// prepared statements with parameters of each common type. Run with `java -cp postgresql.jar
// WireJdbc.java <jdbc url>` by the jdbc test.
import java.math.BigDecimal;
import java.sql.*;

public class WireJdbc {
    public static void main(String[] args) throws Exception {
        try (Connection conn = DriverManager.getConnection(args[0])) {
            DatabaseMetaData meta = conn.getMetaData();
            try (ResultSet rs = meta.getTables(null, null, "%", new String[] {"TABLE", "VIEW"})) {
                while (rs.next()) {
                    System.out.println("table " + rs.getString("TABLE_SCHEM") + "." + rs.getString("TABLE_NAME"));
                }
            }
            try (ResultSet rs = meta.getColumns(null, "public", "typed", "%")) {
                while (rs.next()) {
                    System.out.println("column " + rs.getString("TABLE_NAME") + "." + rs.getString("COLUMN_NAME")
                        + " " + rs.getString("TYPE_NAME"));
                }
            }
            try (PreparedStatement ps = conn.prepareStatement("select label from typed where i4 = ?")) {
                ps.setInt(1, 20);
                System.out.println("int 20 -> " + single(ps));
            }
            try (PreparedStatement ps = conn.prepareStatement("select i4 from typed where label = ?")) {
                ps.setString(1, "alpha");
                System.out.println("string alpha -> " + single(ps));
            }
            try (PreparedStatement ps = conn.prepareStatement("select i4 from typed where i8 = ?")) {
                ps.setLong(1, 3000000000L);
                System.out.println("long 3000000000 -> " + single(ps));
            }
            try (PreparedStatement ps = conn.prepareStatement("select i4 from typed where f8 = ?")) {
                ps.setDouble(1, 3.125);
                System.out.println("double 3.125 -> " + single(ps));
            }
            try (PreparedStatement ps = conn.prepareStatement("select i4 from typed where flag = ? and i4 < 40")) {
                ps.setBoolean(1, false);
                System.out.println("bool false -> " + single(ps));
            }
            try (PreparedStatement ps = conn.prepareStatement("select i4 from typed where amount = ?")) {
                ps.setBigDecimal(1, new BigDecimal("1000000.50"));
                System.out.println("decimal 1000000.50 -> " + single(ps));
            }
            try (PreparedStatement ps = conn.prepareStatement("select i4 from typed where day = ?")) {
                ps.setDate(1, Date.valueOf("2000-02-29"));
                System.out.println("date 2000-02-29 -> " + single(ps));
            }
            try (PreparedStatement ps = conn.prepareStatement("select i4 from typed where at_local = ?")) {
                ps.setTimestamp(1, Timestamp.valueOf("2026-01-02 03:04:05.123456"));
                System.out.println("timestamp 2026-01-02 03:04:05.123456 -> " + single(ps));
            }
            try (PreparedStatement ps = conn.prepareStatement("select i4 from typed where raw = ?")) {
                ps.setBytes(1, new byte[] {0x61});
                System.out.println("bytes 61 -> " + single(ps));
            }
            // The reverse direction: typed getters on a result.
            try (Statement st = conn.createStatement();
                 ResultSet rs = st.executeQuery("select i2, i8, f4, amount, day, at_local, raw from typed where i4 = 10")) {
                rs.next();
                System.out.println("row " + rs.getShort(1) + " " + rs.getLong(2) + " " + rs.getFloat(3) + " "
                    + rs.getBigDecimal(4) + " " + rs.getDate(5) + " " + rs.getTimestamp(6) + " " + rs.getBytes(7).length);
            }
        }
        System.out.println("jdbc ok");
    }

    static String single(PreparedStatement ps) throws SQLException {
        try (ResultSet rs = ps.executeQuery()) {
            StringBuilder out = new StringBuilder();
            while (rs.next()) {
                if (out.length() > 0) out.append(",");
                out.append(rs.getString(1));
            }
            return out.toString();
        }
    }
}
